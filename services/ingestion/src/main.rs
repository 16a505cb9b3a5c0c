use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ingestion::Config::parse();
    let _telemetry = oversight_runtime::telemetry::init(ingestion::SERVICE)?;
    let shutdown = oversight_runtime::Shutdown::new();
    oversight_runtime::shutdown::on_signals(shutdown.clone());
    let app = ingestion::App::build(config).await?;
    tracing::info!(addr = %app.grpc_addr()?, "ingestion listening");
    app.run_until_stopped(shutdown).await
}
