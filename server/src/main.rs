//! `krv-server`: the whole API in one local process (the default), plus the
//! store helpers the local development stack uses.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use krv_server::backup::{self, StoreLock};
use krv_server::embedded::{self, EmbeddedDynamo};
use krv_server::settings::{DynamoMode, ServerSettings};
use krv_server::tls;
use shared::config::{Config, LogFormat, StoreSettings, exit_with};
use shared::db::Stores;
use shared::db::dynamo::Endpoint;
use shared::db::tables;
use shared::env::Env;
use shared::{AppState, telemetry};

#[derive(Parser)]
#[command(name = "krv-server", version, about = "KohakuRiver user management service, local server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default). Configured by environment variables: see the README.
    Serve,
    /// Create missing tables at the configured DynamoDB endpoint, then exit.
    CreateTables,
    /// Write each table's CreateTable JSON (for LocalStack init hooks) into DIR.
    TableJson { dir: PathBuf },
    /// Serve only the DynamoDB-compatible store (Dynoxide) with data in a file:
    /// the native local stack's DynamoDB endpoint.
    Dynamodb {
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        #[arg(long, default_value = ".data/stack/dynamodb.sqlite")]
        db_path: String,
    },
    /// Write a consistent copy of the embedded store (`DYNAMODB_DATA_PATH`) to
    /// FILE. Safe while the service runs.
    Backup { file: PathBuf },
    /// Replace the embedded store's contents (`DYNAMODB_DATA_PATH`) with the
    /// backup FILE. The service must be stopped.
    Restore { file: PathBuf },
    /// Print the OpenAPI 3.1 document of the API (what `docs/openapi.json` holds).
    Openapi,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::CreateTables => create_tables().await,
        Command::TableJson { dir } => table_json(&dir),
        Command::Dynamodb { listen, db_path } => dynamodb(listen, &db_path).await,
        Command::Backup { file } => backup_to(&file),
        Command::Restore { file } => restore_from(&file),
        Command::Openapi => print_openapi(),
    };
    if let Err(err) = result {
        eprintln!("krv-server: {err:#}");
        std::process::exit(1);
    }
}

#[expect(clippy::print_stdout, reason = "printing the document is the command's purpose")]
fn print_openapi() -> anyhow::Result<()> {
    print!("{}", krv_server::openapi::json()?);
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::load_or_exit();
    let settings = ServerSettings::from(&Env::process()).unwrap_or_else(|e| exit_with(&e));
    telemetry::init(config.log_format);

    let tls = match &settings.tls {
        Some(files) => Some(tls::load(files).await?),
        None => None,
    };

    let mut store = None;
    let mut store_lock = None;
    let endpoint = match &settings.dynamodb {
        DynamoMode::Embedded { path } => {
            if path != ":memory:" {
                store_lock = Some(StoreLock::acquire(path)?);
            }
            let started = EmbeddedDynamo::start(embedded::open(path)?, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            tracing::info!(path = %path, endpoint = %started.endpoint(), "embedded DynamoDB store started");
            let endpoint = Endpoint { url: Some(started.endpoint()) };
            store = Some(started);
            endpoint
        }
        DynamoMode::External => Endpoint::default(),
    };
    let state = AppState::connect(config, &endpoint).await?;
    if settings.create_tables {
        tables::ensure(&state.stores, &state.config.stores.table_prefix)
            .await
            .map_err(|e| anyhow::anyhow!("creating tables: {e}"))?;
    }
    let addr = SocketAddr::new(settings.bind, settings.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, tls = tls.is_some(), "serving the KohakuRiver API");
    if state.keys.dispatcher.is_some() {
        tokio::spawn(retry_dispatch_forever(state.clone()));
    }
    let app = if settings.web_dir.is_dir() {
        tracing::info!(dir = %settings.web_dir.display(), "serving the web panel at /");
        krv_server::with_web(krv_server::routes(), state, &settings.web_dir)
    } else {
        krv_server::routes().into_router(state)
    };
    match tls {
        Some(config) => tls::serve(listener, app, config, shared::http::shutdown_signal()).await?,
        None => shared::http::serve_local(listener, app, shared::http::shutdown_signal()).await?,
    }
    tracing::info!("requests finished; stopping");
    if let Some(mut store) = store {
        store.stop().await;
    }
    drop(store_lock);
    Ok(())
}

/// Re-announces tasks whose webhook delivery failed, every 15 seconds.
async fn retry_dispatch_forever(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
    loop {
        tick.tick().await;
        match krv_tasks::retry_dispatch(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(delivered = n, "re-announced tasks to the scheduler"),
            Err(e) => tracing::warn!(error = %e, "retrying task announcements failed"),
        }
    }
}

async fn create_tables() -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text);
    let settings = StoreSettings::from(&Env::process()).unwrap_or_else(|e| exit_with(&e));
    let stores = Stores::connect(&settings, &Endpoint::default()).await?;
    tables::ensure(&stores, &settings.table_prefix).await.map_err(|e| anyhow::anyhow!("creating tables: {e}"))?;
    tracing::info!(prefix = %settings.table_prefix, "tables ready");
    Ok(())
}

fn table_json(dir: &std::path::Path) -> anyhow::Result<()> {
    let settings = StoreSettings::from(&Env::process()).unwrap_or_else(|e| exit_with(&e));
    std::fs::create_dir_all(dir)?;
    for def in tables::TABLES {
        let json = tables::create_table_json(&settings.table_prefix, def);
        std::fs::write(dir.join(format!("{}.json", def.name)), format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    }
    Ok(())
}

async fn dynamodb(listen: SocketAddr, db_path: &str) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text);
    let _lock = if db_path == ":memory:" { None } else { Some(StoreLock::acquire(db_path)?) };
    let mut store = EmbeddedDynamo::start(embedded::open(db_path)?, listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    tracing::info!(endpoint = %store.endpoint(), path = %db_path, "DynamoDB-compatible store serving");
    shared::http::shutdown_signal().await;
    store.stop().await;
    Ok(())
}

/// The embedded store's file: `DYNAMODB_DATA_PATH` (backup and restore only
/// make sense for the embedded store).
fn embedded_data_path() -> anyhow::Result<String> {
    let settings = ServerSettings::from(&Env::process()).unwrap_or_else(|e| exit_with(&e));
    match settings.dynamodb {
        DynamoMode::Embedded { path } => Ok(path),
        DynamoMode::External => anyhow::bail!(
            "the store is an external DynamoDB (DYNAMODB_EMBEDDED or AWS_ENDPOINT_URL is set): back it up with its own tools"
        ),
    }
}

fn backup_to(file: &std::path::Path) -> anyhow::Result<()> {
    let data_path = embedded_data_path()?;
    backup::backup(&data_path, file)?;
    eprintln!("krv-server: backed up {data_path} to {}", file.display());
    Ok(())
}

fn restore_from(file: &std::path::Path) -> anyhow::Result<()> {
    let data_path = embedded_data_path()?;
    backup::restore(&data_path, file)?;
    eprintln!("krv-server: restored {data_path} from {}", file.display());
    Ok(())
}
