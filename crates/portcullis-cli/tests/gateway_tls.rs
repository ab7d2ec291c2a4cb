//! `portcullis serve` in front of an `https://` upstream: the harness's upstream served over
//! real TLS (tokio-rustls) with a certificate from a throwaway CA (rcgen) that no public root
//! knows. With the CA in `gateway.upstream_ca_file` requests and WebSockets pass; without it
//! the certificate is untrusted and the gateway answers 502.
#![cfg(unix)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::serve::Listener;
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

mod gateway_harness;
use gateway_harness::*;

/// A throwaway CA and a certificate it issued for `localhost`.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "portcullis test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_chain: vec![server.der().clone()],
        server_key: PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
    }
}

/// What the TLS upstream saw of its clients.
#[derive(Clone, Default)]
struct Handshakes {
    /// The server name (SNI) of every completed handshake.
    names: Arc<Mutex<Vec<Option<String>>>>,
    /// How many handshakes failed.
    failed: Arc<Mutex<usize>>,
}

/// Accepts TCP connections and completes the TLS handshake before handing them to axum; a
/// failed handshake is counted and the next connection awaited.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    seen: Handshakes,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, address)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => {
                    let name = tls.get_ref().1.server_name().map(str::to_owned);
                    self.seen.names.lock().unwrap().push(name);
                    return (tls, address);
                }
                Err(_) => *self.seen.failed.lock().unwrap() += 1,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The harness's upstream over TLS with `pki`'s server certificate, on a free loopback port.
async fn start_tls_upstream(pki: &Pki) -> (u16, Handshakes) {
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let seen = Handshakes::default();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
        seen: seen.clone(),
    };
    let app = upstream_app(Upstream::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

/// The test gateway in front of `https://localhost:<port>`, trusting the CA file `ca.pem`
/// beside its settings when `ca` is given.
async fn gateway_for(port: u16, ca: Option<&str>) -> Gateway {
    let upstream = format!("https://localhost:{port}");
    match ca {
        Some(ca) => {
            // Relative: taken from the settings file's directory.
            let settings = settings_for(&upstream, "upstream_ca_file = \"ca.pem\"");
            Gateway::start_with(&settings, &[("ca.pem", ca.as_bytes())]).await
        }
        None => Gateway::start(&settings_for(&upstream, "")).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_upstream_with_a_private_ca_is_trusted_through_the_ca_file() {
    let pki = pki();
    let (port, seen) = start_tls_upstream(&pki).await;
    let gateway = gateway_for(port, Some(&pki.ca_pem)).await;

    let response = client()
        .get(gateway.url("/public/page?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["path"], "/public/page");
    assert_eq!(echoed["query"], "x=1");
    assert_eq!(echoed["headers"]["host"], format!("localhost:{port}"));
    assert!(
        seen.names
            .lock()
            .unwrap()
            .contains(&Some("localhost".to_owned())),
        "the gateway sent SNI"
    );

    // Identity headers reach the upstream over TLS as over HTTP.
    let ann = login(&gateway, "ann", "ann-password").await;
    let seen_headers = upstream_headers(
        client()
            .get(gateway.url("/api/orders"))
            .bearer_auth(text(&ann["access_token"]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(seen_headers["x-portcullis-username"], "ann");

    // The health check completes a TLS handshake too.
    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["checks"]["upstream"], json!({ "status": "up" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_upstream_certificate_is_a_502() {
    let pki = pki();
    let (port, seen) = start_tls_upstream(&pki).await;
    let mut gateway = gateway_for(port, None).await;

    let response = client().get(gateway.url("/public")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: Value = response.json().await.unwrap();
    assert!(text(&body["messages"][0]).starts_with("Bad Gateway"));
    // The log tells the operator why (the client is told no more than 502).
    line_with(&mut gateway.stderr, "TLS handshake failed").await;
    assert!(*seen.failed.lock().unwrap() >= 1, "the handshake failed");
    assert!(
        seen.names.lock().unwrap().is_empty(),
        "no request got through"
    );

    let (status, report) = health(&gateway).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        report["checks"]["upstream"],
        json!({ "status": "down", "reason": "tls handshake failed" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_pass_through_to_an_https_upstream() {
    let pki = pki();
    let (port, _) = start_tls_upstream(&pki).await;
    let gateway = gateway_for(port, Some(&pki.ca_pem)).await;
    let ann = login(&gateway, "ann", "ann-password").await;
    let url = format!(
        "{}/ws/chat?room=7&token={}",
        gateway.base.replace("http://", "ws://"),
        text(&ann["access_token"])
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let first = socket.next().await.unwrap().unwrap();
    let saw: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(saw["query"], "room=7");
    assert_eq!(saw["headers"]["x-portcullis-user-id"], "ann");
    socket
        .send(tokio_tungstenite::tungstenite::Message::text("over tls"))
        .await
        .unwrap();
    let answer = socket.next().await.unwrap().unwrap();
    assert_eq!(answer.to_text().unwrap(), "echo: over tls");
    socket.close(None).await.unwrap();
}

#[test]
fn an_unusable_ca_file_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.toml", "upstream_ca_file = \"nowhere.pem\"", None),
        (
            "not-pem.toml",
            "upstream_ca_file = \"not-pem.pem\"",
            Some(("not-pem.pem", "this is not a certificate\n")),
        ),
    ];
    for (name, line, file) in cases {
        if let Some((file, contents)) = file {
            std::fs::write(dir.path().join(file), contents).unwrap();
        }
        let path = dir.path().join(name);
        std::fs::write(&path, settings_for("https://localhost:9", line)).unwrap();
        std::fs::write(dir.path().join("rules.json"), RULES).unwrap();
        let output = command(&["serve", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("gateway.upstream_ca_file"),
            "{name}: {stderr}"
        );
    }
}
