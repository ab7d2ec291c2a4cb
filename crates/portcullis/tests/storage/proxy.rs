//! A TCP relay between a driver and its server, which a test can cut (the server "goes
//! down" for the driver, without stopping the server the other tests share) and restore.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct Proxy {
    pub port: u16,
    target: String,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A relay on a free loopback port to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let mut proxy = Proxy {
            port,
            target: target.to_owned(),
            task: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every relayed connection.
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Closes the port and every relayed connection.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the same port again");
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `host:port` of a URL such as `redis://127.0.0.1:6379/0` or
/// `postgres://user@127.0.0.1:5432/db`.
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
}

/// `url` with its `host:port` replaced by `127.0.0.1:<port>`.
pub fn via(url: &str, port: u16) -> String {
    url.replacen(authority(url), &format!("127.0.0.1:{port}"), 1)
}

#[test]
fn authorities() {
    assert_eq!(authority("redis://127.0.0.1:6379/0"), "127.0.0.1:6379");
    assert_eq!(authority("postgres://u@h:5/db"), "h:5");
    assert_eq!(via("postgres://u@h:5/db", 9), "postgres://u@127.0.0.1:9/db");
}
