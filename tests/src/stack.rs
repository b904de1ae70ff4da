//! The stores of one test: private, so tests run in parallel without sharing
//! data, and stoppable, so outages can be tested. `KRV_TEST_REDIS=cluster`
//! gives every test a three-primary Redis Cluster instead of one server (see
//! [`RedisCluster`]; `scripts/test` runs a named part of the suite so).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krv_server::embedded::{self, EmbeddedDynamo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `redis-server` child process on a loopback port, killed on drop.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    tls: Option<Tls>,
}

/// The certificate and key a TLS-only server presents (the certificate is its
/// own CA), and the folder it may write to.
#[derive(Clone)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a fresh, empty server on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on_free_port(None).await
    }

    /// Starts a fresh server that speaks only TLS (`rediss://`), presenting
    /// `cert` (self-signed: its own CA) and `key`; it may write into `dir`.
    pub async fn start_tls(dir: &Path, cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let tls = Tls { cert: cert.to_path_buf(), key: key.to_path_buf(), dir: dir.to_path_buf() };
        Self::start_on_free_port(Some(tls)).await
    }

    /// A port that was free a moment ago may be taken by the time the server
    /// binds it: try a few.
    async fn start_on_free_port(tls: Option<Tls>) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut server = Self { port, child: None, tls: tls.clone() };
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(tls) => {
                let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
                command
                    .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                    .args(["--tls-cert-file", &path(&tls.cert), "--tls-key-file", &path(&tls.key)])
                    .args(["--tls-ca-cert-file", &path(&tls.cert), "--dir", &path(&tls.dir)])
            }
        };
        let child = command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot run redis-server (is it installed? `localstack/up` installs it): {e}")
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.answers().await {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                anyhow::bail!("redis-server exited with {status} (port {} taken?)", self.port);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stop();
        anyhow::bail!("redis-server on port {} did not answer PING", self.port)
    }

    /// Whether the server answers: PING, or for TLS a TCP connection.
    async fn answers(&self) -> bool {
        match self.tls {
            None => ping(self.port).await,
            Some(_) => tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok(),
        }
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (its data is lost, as in a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts an empty server again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn().await
    }

    /// Suspends the server (SIGSTOP): connections stay open and nothing
    /// answers, as when Redis hangs or the network drops packets. A killed
    /// server refuses connections at once; a frozen one makes every client wait.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Resumes a frozen server (SIGCONT) with its data and connections.
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let child = self.child.as_ref().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))?;
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a Redis server answers PING on `port`.
async fn ping(port: u16) -> bool {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(("127.0.0.1", port))).await
    else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_millis(200), stream.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"+PONG\r\n"
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A Redis Cluster of three primaries (no replicas) on loopback ports, each a
/// `redis-server` child with its cluster state in a private folder; killed,
/// and the folder removed, on drop. Slots are split evenly by
/// `CLUSTER ADDSLOTSRANGE` and the nodes joined by `CLUSTER MEET`, which is
/// quicker than `redis-cli --cluster create` (that one waits whole seconds).
pub struct RedisCluster {
    nodes: Vec<ClusterNode>,
    /// The certificate every node presents when the cluster speaks only TLS.
    tls_cert: Option<PathBuf>,
    // Dropped after the nodes (fields drop in order): their files go last.
    _dir: tempfile::TempDir,
}

struct ClusterNode {
    port: u16,
    child: Child,
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The slots each of the three primaries serves.
const CLUSTER_SLOTS: [(u16, u16); 3] = [(0, 5460), (5461, 10922), (10923, 16383)];

impl RedisCluster {
    /// Starts three empty nodes and joins them; answers once every node sees
    /// all three primaries and every slot served (`cluster_state:ok`).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// Like [`RedisCluster::start`], speaking only TLS (`rediss://`) to
    /// clients and between nodes, every node presenting `cert` (self-signed:
    /// its own CA) and `key`.
    pub async fn start_tls(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        Self::start_with(Some((cert, key))).await
    }

    async fn start_with(tls: Option<(&Path, &Path)>) -> anyhow::Result<Self> {
        let mut last_error = None;
        // A port free a moment ago may be taken by the time a node binds it.
        for _ in 0..5 {
            match Self::try_start(tls).await {
                Ok(cluster) => return Ok(cluster),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the Redis Cluster did not start")))
    }

    async fn try_start(tls: Option<(&Path, &Path)>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut nodes = Vec::new();
        let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        for _ in CLUSTER_SLOTS {
            // The cluster bus gets a port of its own: the default (port +
            // 10000) may be taken or out of range.
            let (port, bus_port) = (free_port()?, free_port()?);
            let mut command = Command::new("redis-server");
            match tls {
                None => command.args(["--port", &port.to_string()]),
                // `tls-cluster` makes the bus speak TLS and the nodes announce
                // their TLS ports to clients.
                Some((cert, key)) => command
                    .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-cluster", "yes"])
                    .args(["--tls-auth-clients", "no", "--tls-cert-file", &path(cert), "--tls-key-file", &path(key)])
                    .args(["--tls-ca-cert-file", &path(cert)]),
            };
            let child = command
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-port", &bus_port.to_string()])
                .args(["--cluster-config-file", &path(&dir.path().join(format!("nodes-{port}.conf")))])
                .args(["--dir", &path(dir.path()), "--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    anyhow::anyhow!("cannot run redis-server (is it installed? `localstack/up` installs it): {e}")
                })?;
            nodes.push((ClusterNode { port, child }, bus_port));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let tls_cert = tls.map(|(cert, _)| cert.to_path_buf());
        for (node, _) in &mut nodes {
            while !(match tls {
                None => ping(node.port).await,
                Some(_) => tokio::net::TcpStream::connect(("127.0.0.1", node.port)).await.is_ok(),
            }) {
                if let Some(status) = node.child.try_wait()? {
                    anyhow::bail!("a cluster node exited with {status} (port {} taken?)", node.port);
                }
                anyhow::ensure!(Instant::now() < deadline, "cluster node on port {} did not answer PING", node.port);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let mut connections = Vec::new();
        for ((node, _), (epoch, (first, last))) in nodes.iter().zip((1u64..).zip(CLUSTER_SLOTS)) {
            let mut conn = node_connection(node.port, tls_cert.as_deref()).await?;
            // Distinct epochs up front spare the nodes resolving a collision.
            let _: () = redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(epoch).query_async(&mut conn).await?;
            let _: () = redis::cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(first).arg(last).query_async(&mut conn).await?;
            connections.push(conn);
        }
        // Every pair meets directly: learning of a node by gossip alone can
        // take until the next scheduled ping, seconds away.
        for (from, conn) in connections.iter_mut().enumerate() {
            for (node, bus_port) in &nodes[from + 1..] {
                let _: () = redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(node.port)
                    .arg(*bus_port)
                    .query_async(conn)
                    .await?;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut settled = true;
            for conn in &mut connections {
                let info: String = redis::cmd("CLUSTER").arg("INFO").query_async(conn).await?;
                let has = |line: &str| info.lines().any(|l| l.trim() == line);
                settled &= has("cluster_state:ok")
                    && has("cluster_slots_assigned:16384")
                    && has("cluster_known_nodes:3")
                    && has("cluster_size:3");
            }
            if settled {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the Redis Cluster did not settle within 15 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { nodes: nodes.into_iter().map(|(node, _)| node).collect(), tls_cert, _dir: dir })
    }

    /// Every node's URL, `redis://127.0.0.1:PORT` (`rediss://` for TLS).
    pub fn node_urls(&self) -> Vec<String> {
        let scheme = if self.tls_cert.is_some() { "rediss" } else { "redis" };
        self.nodes.iter().map(|node| format!("{scheme}://127.0.0.1:{}", node.port)).collect()
    }

    /// The service's `REDIS_URL` for this cluster: every node as a seed,
    /// comma-separated.
    pub fn url(&self) -> String {
        self.node_urls().join(",")
    }

    /// A plain (non-cluster) connection to each node, to ask a node about
    /// itself (`DBSIZE`, `CLUSTER COUNTKEYSINSLOT`).
    pub async fn node_connections(&self) -> anyhow::Result<Vec<redis::aio::MultiplexedConnection>> {
        let mut connections = Vec::new();
        for node in &self.nodes {
            connections.push(node_connection(node.port, self.tls_cert.as_deref()).await?);
        }
        Ok(connections)
    }
}

/// A plain connection to one node, over TLS trusting `tls_cert` when given.
async fn node_connection(port: u16, tls_cert: Option<&Path>) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = match tls_cert {
        None => redis::Client::open(format!("redis://127.0.0.1:{port}"))?,
        Some(cert) => redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{port}"),
            redis::TlsCertificates { client_tls: None, root_cert: Some(std::fs::read(cert)?) },
        )?,
    };
    Ok(client.get_multiplexed_async_connection().await?)
}

/// Which Redis the tests of this run get: one server, unless the environment
/// says `KRV_TEST_REDIS=cluster`.
pub fn cluster_requested() -> bool {
    match std::env::var("KRV_TEST_REDIS").unwrap_or_default().as_str() {
        "" | "single" => false,
        "cluster" => true,
        other => panic!("KRV_TEST_REDIS={other:?}: expected `cluster` or `single`"),
    }
}

/// A test's Redis: one server, which a test may stop, restart, freeze and
/// thaw (reached through `Deref`), or a cluster.
pub enum StackRedis {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl StackRedis {
    /// The service's `REDIS_URL`: the server's URL, or the cluster's seeds.
    pub fn url(&self) -> String {
        match self {
            Self::Server(server) => server.url(),
            Self::Cluster(cluster) => cluster.url(),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    pub fn cluster(&self) -> Option<&RedisCluster> {
        match self {
            Self::Cluster(cluster) => Some(cluster),
            Self::Server(_) => None,
        }
    }
}

const SINGLE_SERVER_ONLY: &str = "this test controls a single redis-server (stop, restart, freeze), which a \
     Redis Cluster run does not have: leave it out of the cluster subset (scripts/test)";

impl std::ops::Deref for StackRedis {
    type Target = RedisServer;

    fn deref(&self) -> &RedisServer {
        match self {
            Self::Server(server) => server,
            Self::Cluster(_) => panic!("{SINGLE_SERVER_ONLY}"),
        }
    }
}

impl std::ops::DerefMut for StackRedis {
    fn deref_mut(&mut self) -> &mut RedisServer {
        match self {
            Self::Server(server) => server,
            Self::Cluster(_) => panic!("{SINGLE_SERVER_ONLY}"),
        }
    }
}

/// Both stores of one test.
pub struct TestStack {
    pub dynamo: EmbeddedDynamo,
    pub redis: StackRedis,
    /// While DynamoDB is unresponsive: the listener that takes its place.
    black_hole: Option<tokio::task::JoinHandle<()>>,
}

impl TestStack {
    /// The stores, with a cluster when `KRV_TEST_REDIS=cluster`.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(cluster_requested()).await
    }

    /// The stores, with a Redis Cluster or one server as asked.
    pub async fn start_with(cluster: bool) -> anyhow::Result<Self> {
        let dynamo = async {
            let db = embedded::open(":memory:")?;
            anyhow::Ok(EmbeddedDynamo::start(db, SocketAddr::from(([127, 0, 0, 1], 0))).await?)
        };
        // A cluster's nodes wait about two seconds after starting before they
        // serve (Redis lets a restarted primary learn of a failover first):
        // DynamoDB starts meanwhile.
        let redis = async {
            anyhow::Ok(if cluster {
                StackRedis::Cluster(RedisCluster::start().await?)
            } else {
                StackRedis::Server(RedisServer::start().await?)
            })
        };
        let (dynamo, redis) = tokio::join!(dynamo, redis);
        Ok(Self { dynamo: dynamo?, redis: redis?, black_hole: None })
    }

    /// Makes DynamoDB unresponsive: the store stops serving and a listener on
    /// its address accepts connections and never answers, so clients wait for
    /// their own timeouts (as with a hung endpoint or a dropped route) instead
    /// of being refused at once.
    pub async fn hang_dynamo(&mut self) -> anyhow::Result<()> {
        self.dynamo.stop().await;
        let listener = tokio::net::TcpListener::bind(self.dynamo.addr()).await?;
        self.black_hole = Some(tokio::spawn(async move {
            // Held, never read or answered; dropped when the task is aborted.
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        }));
        Ok(())
    }

    /// Ends [`TestStack::hang_dynamo`]: the waiting connections are closed and
    /// the store serves again on its address, with its data.
    pub async fn unhang_dynamo(&mut self) -> anyhow::Result<()> {
        if let Some(task) = self.black_hole.take() {
            task.abort();
            let _ = task.await;
        }
        self.dynamo.restart().await?;
        Ok(())
    }
}
