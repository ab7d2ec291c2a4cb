//! A real HTTP server for a router, as production runs it.

use std::net::SocketAddr;

use axum::Router;

/// Serves `app` on `ip`, port 0 (a free one), with the peer address recorded
/// (`ConnectInfo`); returns its base URL, e.g. `http://127.0.0.1:41234`.
pub async fn serve_on(ip: &str, app: Router) -> String {
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    base
}

/// [`serve_on`] 127.0.0.1.
pub async fn serve(app: Router) -> String {
    serve_on("127.0.0.1", app).await
}
