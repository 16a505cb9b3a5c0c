use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = combiner::Config::parse();
    let _telemetry = oversight_runtime::telemetry::init(combiner::SERVICE)?;
    let shutdown = oversight_runtime::Shutdown::new();
    oversight_runtime::shutdown::on_signals(shutdown.clone());
    let app = combiner::App::build(config).await?;
    tracing::info!(addr = %app.grpc_addr()?, report = ?app.report_addr(), "combiner listening");
    app.run_until_stopped(shutdown).await
}
