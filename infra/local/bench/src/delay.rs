//! A userspace delay line: a TCP proxy that holds every chunk it forwards for a fixed
//! time in each direction, so a round trip to MariaDB or Redis costs about what it does
//! across a VPC instead of loopback's few microseconds. (The kernel of these machines has
//! no `sch_netem`, so `tc netem` in a network namespace is not available.) Chunks are
//! queued with their due time, so concurrent requests are delayed, not serialised.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Listens on a free local port and forwards every connection to `target` with `one_way`
/// added in each direction; returns the port's address. Runs until the process ends.
pub fn start(target: &str, one_way: Duration) -> SocketAddr {
    let target: SocketAddr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("{target} resolves"));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("bound");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            for stream in [&client, &server] {
                stream.set_nodelay(true).ok();
            }
            let (c, s) = (client.try_clone(), server.try_clone());
            if let (Ok(c), Ok(s)) = (c, s) {
                forward(client, s, one_way);
                forward(server, c, one_way);
            }
        }
    });
    addr
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
fn forward(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, due_chunks) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if chunks
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for (due, chunk) in due_chunks {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        to.shutdown(Shutdown::Write).ok();
    });
}

/// `url` with its host and port replaced by `addr` (credentials, path and query kept).
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (credentials, host_and_path) = match rest.rsplit_once('@') {
        Some((credentials, rest)) => (format!("{credentials}@"), rest),
        None => (String::new(), rest),
    };
    let path = host_and_path
        .find(['/', '?'])
        .map_or("", |i| &host_and_path[i..]);
    format!("{scheme}://{credentials}{addr}{path}")
}

/// The `host:port` of `url`.
pub fn authority(url: &str) -> String {
    let rest = url.split_once("://").expect("a URL").1;
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let end = host_and_path
        .find(['/', '?'])
        .unwrap_or(host_and_path.len());
    host_and_path[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_pointed_at_the_proxy() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let cases = [
            (
                "mysql://root@127.0.0.1:13306/bench_1",
                "mysql://root@127.0.0.1:4000/bench_1",
                "127.0.0.1:13306",
            ),
            (
                "redis://127.0.0.1:16379",
                "redis://127.0.0.1:4000",
                "127.0.0.1:16379",
            ),
            (
                "mysql://u:p@localhost:3306/db?ssl-mode=DISABLED",
                "mysql://u:p@127.0.0.1:4000/db?ssl-mode=DISABLED",
                "localhost:3306",
            ),
        ];
        for (url, proxied, target) in cases {
            assert_eq!(via(url, addr), proxied);
            assert_eq!(authority(url), target);
        }
    }
}
