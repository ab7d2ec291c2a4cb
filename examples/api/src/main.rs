//! Runs the example API on 127.0.0.1:3000 (or `PORT`), with `portcullis.toml` (or the file
//! named by `PORTCULLIS_CONFIG`) and `PORTCULLIS_*` environment overrides.

use portcullis::events::EventBus;
use portcullis::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = match std::env::var("PORTCULLIS_CONFIG") {
        Ok(path) => Settings::load(path)?,
        Err(_) => Settings::load_with_env(
            portcullis::settings::SettingsSource::Toml(portcullis_example_api::SETTINGS.to_owned()),
            std::env::vars(),
        )?,
    };
    let app = portcullis_example_api::build(settings, EventBus::new()).await?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let address = listener.local_addr()?;
    println!("example API on http://{address}");
    println!("  curl -s -X POST http://{address}/login -H 'content-type: application/json' \\");
    println!("       -d '{{\"username\":\"alice\",\"password\":\"alice-password\"}}'");
    portcullis_example_api::serve(listener, app.router).await?;
    Ok(())
}
