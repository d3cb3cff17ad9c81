//! Redis servers of a test's own, in the shape of the stack `make test` started (TLS with
//! the stack's certificates or not; the cluster protocol or not), so an outage or a
//! failover can be played without disturbing the other tests. Plus a TCP relay that plays
//! a DNS name moving to another node.

use adapters::{RedisConfig, RedisTimeouts};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// TLS and topology of the stack's Redis (`infra/local/stack.sh` exports them).
#[derive(Clone)]
struct Shape {
    /// The stack's certificate folder when Redis speaks TLS.
    tls: Option<PathBuf>,
    cluster: bool,
}

impl Shape {
    fn of_stack() -> Self {
        let tls = (std::env::var("REDIS_TLS").as_deref() == Ok("1"))
            .then(|| PathBuf::from(crate::env("TLS_DIR")));
        Self {
            tls,
            cluster: std::env::var("REDIS_CLUSTER").as_deref() == Ok("true"),
        }
    }

    fn server_args(&self, port: u16, dir: &Path) -> Vec<String> {
        let mut args: Vec<String> = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            .map(String::from)
            .into();
        args.extend(["--daemonize".into(), "yes".into()]);
        // As the deployed parameter group (see infra/local/stack.sh).
        args.extend(["--maxmemory-policy".into(), "noeviction".into()]);
        args.extend([
            "--hash-max-listpack-entries".into(),
            domain::views::HASH_MAX_LISTPACK_ENTRIES.to_string(),
        ]);
        args.extend(["--dir".into(), dir.display().to_string()]);
        args.extend([
            "--logfile".into(),
            dir.join("redis.log").display().to_string(),
        ]);
        args.extend([
            "--pidfile".into(),
            dir.join("redis.pid").display().to_string(),
        ]);
        match &self.tls {
            Some(tls) => {
                let file = |name: &str| tls.join(name).display().to_string();
                args.extend([
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                ]);
                args.extend(["--tls-cert-file".into(), file("server.pem")]);
                args.extend(["--tls-key-file".into(), file("server.key")]);
                args.extend(["--tls-ca-cert-file".into(), file("ca.pem")]);
                args.extend(
                    ["--tls-auth-clients", "no", "--tls-replication", "yes"].map(String::from),
                );
                if self.cluster {
                    args.extend(["--tls-cluster".into(), "yes".into()]);
                }
            }
            None => args.extend(["--port".into(), port.to_string()]),
        }
        if self.cluster {
            args.extend(
                ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"].map(String::from),
            );
            args.extend([
                "--cluster-config-file".into(),
                dir.join("nodes.conf").display().to_string(),
            ]);
        }
        args
    }

    fn cli_args(&self) -> Vec<String> {
        match &self.tls {
            Some(tls) => vec![
                "--tls".into(),
                "--cacert".into(),
                tls.join("ca.pem").display().to_string(),
            ],
            None => Vec::new(),
        }
    }

    /// `redis-cli` against `port`: its output, or None when the server did not answer.
    fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(self.cli_args())
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let refused = text.contains("Connection refused") || text.contains("Could not connect");
        (output.status.success() && !refused).then_some(text)
    }

    fn config(&self, port: u16) -> RedisConfig {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        RedisConfig {
            url: format!("{scheme}://127.0.0.1:{port}"),
            cluster: self.cluster,
            ca_file: self.tls.as_ref().map(|tls| tls.join("ca.pem")),
            timeouts: RedisTimeouts::REQUEST,
        }
    }

    fn start_server(&self, port: u16, dir: &Path) {
        let status = Command::new("redis-server")
            .args(self.server_args(port, dir))
            .status()
            .expect("redis-server on PATH");
        assert!(status.success(), "redis-server on {port} did not start");
        wait_until(&format!("redis-server on {port} answers"), || {
            self.cli(port, &["ping"]).as_deref() == Some("PONG")
        });
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn state_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_owned())
}

/// One Redis server that a test can stop and start again on the same port (data kept
/// across the restart, as a failover would keep it). In the cluster shape it is a cluster
/// of one node holding every slot, so the client speaks the cluster protocol to it.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    shape: Shape,
}

impl OwnRedis {
    /// A server in the stack's shape.
    pub fn start() -> Self {
        Self::start_shaped(Shape::of_stack())
    }

    /// A single node (no cluster protocol), with the stack's TLS setting.
    pub fn start_single() -> Self {
        Self::start_shaped(Shape {
            cluster: false,
            ..Shape::of_stack()
        })
    }

    fn start_shaped(shape: Shape) -> Self {
        let redis = Self {
            port: free_port(),
            dir: state_dir("redis-test"),
            shape,
        };
        redis.shape.start_server(redis.port, &redis.dir);
        if redis.shape.cluster {
            redis.cli(&["cluster", "addslotsrange", "0", "16383"]);
        }
        redis.wait_ready();
        redis
    }

    pub fn config(&self) -> RedisConfig {
        self.shape.config(self.port)
    }

    pub fn start_again(&self) {
        self.shape.start_server(self.port, &self.dir);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        if self.shape.cluster {
            wait_until("the one-node cluster is ok", || {
                self.cli(&["cluster", "info"])
                    .is_some_and(|i| info_field(&i, "cluster_state").as_deref() == Some("ok"))
            });
        }
    }

    /// Stops the server, saving its data to disk first.
    pub fn stop(&self) {
        self.cli(&["shutdown", "save"]);
        wait_until(&format!("redis-server on {} stops", self.port), || {
            self.cli(&["ping"]).is_none()
        });
    }

    /// `redis-cli` against this server: its output, or None when it did not answer.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        self.shape.cli(self.port, args)
    }

    /// Freezes the server (SIGSTOP): connections stay open and commands queue unanswered,
    /// as on a node stalled by a slow disk or a long fork. `thaw` lets them all run.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("pid file");
        let status = Command::new("kill")
            .args([signal, pid.trim()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.cli(&["shutdown", "nosave"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of its own: 3 primaries with a replica each, TLS as the stack has it.
pub struct OwnCluster {
    pub ports: Vec<u16>,
    dirs: Vec<PathBuf>,
    shape: Shape,
}

impl OwnCluster {
    pub fn start() -> Self {
        let shape = Shape {
            cluster: true,
            ..Shape::of_stack()
        };
        let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
        let dirs: Vec<PathBuf> = ports
            .iter()
            .map(|p| state_dir(&format!("cluster-{p}")))
            .collect();
        for (port, dir) in ports.iter().zip(&dirs) {
            shape.start_server(*port, dir);
        }
        let cluster = Self { ports, dirs, shape };
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(nodes.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "1", "--cluster-yes"]);
        cluster
            .shape
            .cli(cluster.ports[0], &create)
            .expect("redis-cli --cluster create");
        cluster.wait_healthy();
        cluster
    }

    pub fn config(&self) -> RedisConfig {
        self.shape.config(self.ports[0])
    }

    /// Every node says the cluster is ok and every replica has synced with its primary.
    pub fn wait_healthy(&self) {
        wait_until("the cluster is ok and its replicas in sync", || {
            self.live_ports().iter().all(|port| {
                let ok = self
                    .cli(*port, &["cluster", "info"])
                    .is_some_and(|i| info_field(&i, "cluster_state").as_deref() == Some("ok"));
                let synced = self.cli(*port, &["info", "replication"]).is_some_and(|i| {
                    info_field(&i, "role").as_deref() == Some("master")
                        || info_field(&i, "master_link_status").as_deref() == Some("up")
                });
                ok && synced
            })
        });
    }

    fn live_ports(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|p| self.cli(*p, &["ping"]).as_deref() == Some("PONG"))
            .collect()
    }

    /// The ports of the nodes that are primaries now.
    pub fn primaries(&self) -> Vec<u16> {
        self.live_ports()
            .into_iter()
            .filter(|p| {
                self.cli(*p, &["info", "replication"])
                    .is_some_and(|i| info_field(&i, "role").as_deref() == Some("master"))
            })
            .collect()
    }

    /// Kills the node on `port` with SIGKILL (no shutdown, nothing saved).
    pub fn kill(&self, port: u16) {
        let index = self
            .ports
            .iter()
            .position(|p| *p == port)
            .expect("our node");
        let pid = std::fs::read_to_string(self.dirs[index].join("redis.pid")).expect("pid file");
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
        wait_until(&format!("node {port} is gone"), || {
            self.cli(port, &["ping"]).is_none()
        });
    }

    pub fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        self.shape.cli(port, args)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for port in &self.ports {
            self.cli(*port, &["shutdown", "nosave"]);
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A TCP relay on a port of its own: each new connection goes to the current target, and
/// connections already made stay where they are. It plays an endpoint's DNS name that a
/// failover moved to another node while old connections still reach the old one.
pub struct Relay {
    pub port: u16,
    target: Arc<AtomicU16>,
}

impl Relay {
    pub async fn start(target: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target));
        let current = target.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let to = current.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, target }
    }

    pub fn point_to(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
    }
}
