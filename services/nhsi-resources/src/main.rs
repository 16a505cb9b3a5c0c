use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = nhsi_resources::Config::parse();
    let _telemetry = oversight_runtime::telemetry::init(nhsi_resources::SERVICE)?;
    let shutdown = oversight_runtime::Shutdown::new();
    oversight_runtime::shutdown::on_signals(shutdown.clone());
    let app = nhsi_resources::App::build(config).await?;
    tracing::info!(addr = %app.grpc_addr()?, "nhsi-resources listening");
    app.run_until_stopped(shutdown).await
}
