//! Runs the Toss sandbox on 127.0.0.1:$TOSS_SANDBOX_PORT (17000 unless set) with the secret keys
//! in $TOSS_SANDBOX_SECRET_KEYS (comma-separated; the public docs test keys unless set),
//! sending webhooks to $TOSS_SANDBOX_WEBHOOK_URL when it is set.

use toss_sandbox::{DOCS_TEST_SECRET_KEYS, Sandbox, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::var("TOSS_SANDBOX_PORT") {
        Ok(port) => port.trim().parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("TOSS_SANDBOX_PORT is not a port: {port:?}"),
            )
        })?,
        Err(_) => 17000,
    };
    let secret_keys: Vec<String> = match std::env::var("TOSS_SANDBOX_SECRET_KEYS") {
        Ok(keys) => keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from)
            .collect(),
        Err(_) => DOCS_TEST_SECRET_KEYS.map(String::from).to_vec(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // The bound port, so TOSS_SANDBOX_PORT=0 prints the one the OS picked.
    let port = listener.local_addr()?.port();
    println!("toss sandbox listening on http://127.0.0.1:{port}");
    let sandbox = Sandbox::new(secret_keys);
    // Where webhooks go, as registered in Toss's developer center (none unless set).
    let webhook_url = std::env::var("TOSS_SANDBOX_WEBHOOK_URL").ok();
    sandbox.set_webhook_url(webhook_url.filter(|url| !url.trim().is_empty()));
    serve(listener, sandbox).await
}
