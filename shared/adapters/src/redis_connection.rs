//! How the adapters reach Redis (ElastiCache): one node or a cluster, in plain TCP or TLS.
//!
//! - `rediss://` turns TLS on (ElastiCache in-transit encryption, always on for
//!   ElastiCache Serverless). Certificates are verified against the Mozilla roots built
//!   into the binary (ElastiCache's are publicly trusted), or against a private CA when
//!   `ca_file` names one. rustls runs on the process's one crypto provider (aws-lc).
//! - `cluster` selects the cluster protocol (ElastiCache with cluster mode enabled, and
//!   ElastiCache Serverless): commands are routed by slot and the client follows
//!   `MOVED`/`ASK` and failovers by itself. A cluster refuses a pipeline whose keys span
//!   slots, so callers group their pipelines with [`SlotPipelines`].
//! - A single node whose connection answers `READONLY` (a primary demoted by a failover,
//!   still reached by an old connection while the endpoint's DNS name points at the new
//!   primary) gets its connection replaced: the next call connects afresh.

use app::InfraError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, RedisResult, TlsCertificates, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long a caller waits for Redis. A page view must not hang on a sick cache (the
/// loss ledger takes the view instead); the flush job can wait longer.
#[derive(Debug, Clone, Copy)]
pub struct RedisTimeouts {
    pub connect: Duration,
    /// Bound on one call including any reconnect attempt.
    pub call: Duration,
}

impl RedisTimeouts {
    pub const REQUEST: Self = Self {
        connect: Duration::from_millis(250),
        call: Duration::from_millis(500),
    };
    pub const JOB: Self = Self {
        connect: Duration::from_secs(2),
        call: Duration::from_secs(30),
    };
}

/// Where Redis is and how to talk to it (see the module documentation).
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://host:port` or `rediss://host:port` (a cluster's configuration endpoint or
    /// any of its nodes when `cluster`).
    pub url: String,
    pub cluster: bool,
    /// PEM file of a private CA to verify the server with, instead of the public roots.
    pub ca_file: Option<PathBuf>,
    pub timeouts: RedisTimeouts,
}

impl std::fmt::Debug for RedisConfig {
    // The URL may carry a password (`rediss://:token@host`): never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("tls", &self.url.starts_with("rediss://"))
            .field("cluster", &self.cluster)
            .field("ca_file", &self.ca_file)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    pub fn new(url: impl Into<String>, timeouts: RedisTimeouts) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            ca_file: None,
            timeouts,
        }
    }

    fn certificates(&self) -> Result<Option<TlsCertificates>, InfraError> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let pem =
            std::fs::read(path).map_err(|e| InfraError::new("could not read REDIS_CA_FILE", e))?;
        Ok(Some(TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        }))
    }
}

/// A connection handle of either topology; cheap to clone (both multiplex one socket per
/// node).
#[derive(Clone)]
pub enum RedisConn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

// One per execution environment, behind an Arc: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Topology {
    Node(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// The shared connection of one execution environment, made on first use.
#[derive(Clone)]
pub struct RedisConnection {
    topology: Arc<Topology>,
    timeouts: RedisTimeouts,
    current: Arc<RwLock<Option<RedisConn>>>,
}

impl RedisConnection {
    /// Validates the configuration (URL, CA file) without connecting: the first command
    /// connects, and after a Redis restart or a Lambda thaw the connection is remade.
    pub fn new(config: &RedisConfig) -> Result<Self, InfraError> {
        install_crypto_provider();
        let certificates = config.certificates()?;
        let topology = if config.cluster {
            Topology::Cluster(cluster_client(config, certificates)?)
        } else {
            let client = match certificates {
                Some(certs) => redis::Client::build_with_tls(config.url.as_str(), certs),
                None => redis::Client::open(config.url.as_str()),
            }
            .map_err(|e| InfraError::new("invalid REDIS_URL", e))?;
            Topology::Node(client)
        };
        Ok(Self {
            topology: Arc::new(topology),
            timeouts: config.timeouts,
            current: Arc::new(RwLock::new(None)),
        })
    }

    pub fn is_cluster(&self) -> bool {
        matches!(*self.topology, Topology::Cluster(_))
    }

    /// The current connection, made now if there is none.
    pub async fn get(&self) -> Result<RedisConn, InfraError> {
        if let Some(conn) = self.current.read().expect("lock").clone() {
            return Ok(conn);
        }
        let conn = self.connect().await?;
        let mut current = self.current.write().expect("lock");
        // Two first calls may race: keep the one stored first, drop ours.
        Ok(current.get_or_insert(conn).clone())
    }

    async fn connect(&self) -> Result<RedisConn, InfraError> {
        match &*self.topology {
            Topology::Node(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeouts.connect))
                    .set_response_timeout(Some(self.timeouts.call))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(20))
                    .set_max_delay(Duration::from_millis(100));
                ConnectionManager::new_lazy_with_config(client.clone(), config)
                    .map(RedisConn::Node)
                    .map_err(|e| InfraError::new("could not create the Redis connection", e))
            }
            Topology::Cluster(client) => {
                let connect = client.get_async_connection();
                match tokio::time::timeout(self.timeouts.call, connect).await {
                    Ok(Ok(conn)) => Ok(RedisConn::Cluster(conn)),
                    Ok(Err(e)) => Err(InfraError::new("could not connect to the Redis cluster", e)),
                    Err(e) => Err(InfraError::new("could not connect to the Redis cluster", e)),
                }
            }
        }
    }

    /// Runs one call with the connection under the call timeout; a `READONLY` answer
    /// drops the connection so the next call reaches the current primary.
    pub async fn run<T, F, Fut>(&self, what: &'static str, call: F) -> Result<T, InfraError>
    where
        F: FnOnce(RedisConn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.get().await?;
        match tokio::time::timeout(self.timeouts.call, call(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if is_read_only(&e) {
                    tracing::warn!("Redis answered READONLY (a demoted primary): reconnecting");
                    self.current.write().expect("lock").take();
                }
                Err(InfraError::new(what, e))
            }
            Err(elapsed) => Err(InfraError::new(what, elapsed)),
        }
    }
}

/// One crypto provider per binary: aws-lc, as sqlx, reqwest and the AWS SDK use. (A second
/// provider compiled in would make rustls refuse to pick one, and `rediss://` panic.)
pub fn install_crypto_provider() {
    // Err means one is installed already; then it is this one (nothing else installs one).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn is_read_only(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
    )
}

fn cluster_client(
    config: &RedisConfig,
    certificates: Option<TlsCertificates>,
) -> Result<redis::cluster::ClusterClient, InfraError> {
    let mut builder = ClusterClientBuilder::new(vec![config.url.as_str()])
        .connection_timeout(config.timeouts.connect)
        .response_timeout(config.timeouts.call)
        .retries(2);
    if let Some(certs) = certificates {
        builder = builder.certs(certs);
    }
    builder
        .build()
        .map_err(|e| InfraError::new("invalid REDIS_URL for a cluster", e))
}

/// Single-reply commands grouped by hash tag: one pipeline on a single node (one round
/// trip), one pipeline per tag on a cluster (sent concurrently over the nodes'
/// connections, so the wall time is one round trip to the slowest node touched).
pub struct SlotPipelines {
    cluster: bool,
    groups: BTreeMap<u64, (Pipeline, Vec<usize>)>,
    added: usize,
}

impl SlotPipelines {
    pub fn new(cluster: bool) -> Self {
        Self {
            cluster,
            groups: BTreeMap::new(),
            added: 0,
        }
    }

    /// Adds one command (it must produce exactly one reply) whose keys carry `tag`.
    pub fn add(&mut self, tag: u64, command: impl FnOnce(&mut Pipeline)) {
        let group = if self.cluster { tag } else { 0 };
        let (pipe, positions) = self
            .groups
            .entry(group)
            .or_insert_with(|| (redis::pipe(), Vec::new()));
        command(pipe);
        positions.push(self.added);
        self.added += 1;
    }

    /// The replies in the order the commands were added.
    pub async fn query<T: FromRedisValue + Default + Clone>(
        self,
        conn: RedisConn,
    ) -> RedisResult<Vec<T>> {
        let replies =
            futures::future::try_join_all(self.groups.into_values().map(|(pipe, positions)| {
                let mut conn = conn.clone();
                async move {
                    let values: Vec<T> = pipe.query_async(&mut conn).await?;
                    Ok::<_, redis::RedisError>(positions.into_iter().zip(values))
                }
            }))
            .await?;
        let mut out = vec![T::default(); self.added];
        for (position, value) in replies.into_iter().flatten() {
            out[position] = value;
        }
        Ok(out)
    }
}
