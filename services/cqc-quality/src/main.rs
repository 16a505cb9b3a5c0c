use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = cqc_quality::Config::parse();
    let _telemetry = oversight_runtime::telemetry::init(cqc_quality::SERVICE)?;
    let shutdown = oversight_runtime::Shutdown::new();
    oversight_runtime::shutdown::on_signals(shutdown.clone());
    let app = cqc_quality::App::build(config).await?;
    tracing::info!(addr = %app.grpc_addr()?, "cqc-quality listening");
    app.run_until_stopped(shutdown).await
}
