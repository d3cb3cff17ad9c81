//! Runs the SDK v2 stand-in (assets/sdk-v2.js) in Node against a tiny fake DOM
//! (tests/sdk-v2.fake-dom.js): the widget flow, the element ids and every error code. Skipped,
//! with a note, where `node` is not installed; the site's Chromium test covers a real browser.

use std::process::Command;

#[test]
fn the_sdk_script_runs_the_widget_flow_in_node() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let Ok(version) = Command::new("node").arg("--version").output() else {
        eprintln!("skipped: node is not installed");
        return;
    };
    eprintln!("node {}", String::from_utf8_lossy(&version.stdout).trim());
    let run = Command::new("node")
        .arg(format!("{dir}/tests/sdk-v2.fake-dom.js"))
        .arg(format!("{dir}/assets/sdk-v2.js"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 5);
}
