//! TLS to an `https://` upstream: rustls with the aws-lc-rs provider (the one the JWT keys
//! already use), TLS 1.2 and 1.3, no client certificate.
//!
//! The upstream's certificate must chain to a trusted root and name the upstream's host
//! (SNI is sent for a host name, not for an IP address, which the certificate must then
//! carry as an IP SAN). Trusted roots are Mozilla's (the `webpki-roots` bundle, compiled
//! in: the same on every machine, whatever the host's certificate store holds) plus every
//! certificate of the PEM file `gateway.upstream_ca_file`, for a private CA. There is no
//! switch that accepts any certificate.
//!
//! ```
//! use portcullis::settings::Settings;
//! use portcullis::gateway::ReverseProxy;
//! use portcullis::net::TrustedProxies;
//!
//! let settings = Settings::from_toml_str(r#"
//!     [gateway]
//!     upstream = "https://api.internal:8443"
//!     upstream_ca_file = "/nonexistent/ca.pem"
//! "#).unwrap();
//! let err = ReverseProxy::new(&settings.gateway, &settings.jwt, TrustedProxies::default())
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("gateway.upstream_ca_file: cannot read"));
//! ```

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::{Error, Result};

/// The setting the extra roots come from.
const CA_FILE_KEY: &str = "gateway.upstream_ca_file";
/// The largest CA file read (Mozilla's whole bundle is about 220 KiB).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// The client configuration for an https upstream: Mozilla's roots plus those of `ca_file`.
///
/// # Errors
/// [`Error::Config`] naming `gateway.upstream_ca_file` when the file cannot be read, is
/// larger than 4 MiB, holds no PEM certificate, or holds one that is not a usable root.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for certificate in read_certificates(path)? {
            roots.add(certificate).map_err(|e| {
                Error::config(
                    CA_FILE_KEY,
                    format!("{}: a certificate is not usable: {e}", path.display()),
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(CA_FILE_KEY, format!("TLS is unusable: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates of the PEM file at `path` (other PEM sections are skipped).
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let unreadable = |reason: String| {
        Error::config(
            CA_FILE_KEY,
            format!("cannot read {}: {reason}", path.display()),
        )
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CA_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() as u64 > MAX_CA_FILE {
        return Err(unreadable(format!("larger than {MAX_CA_FILE} bytes")));
    }
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(format!("not PEM: {e}")))?;
    if certificates.is_empty() {
        return Err(unreadable(
            "no certificate in it (expected -----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(certificates)
}

/// Whether `error`, or an error it was caused by, is a TLS failure (an untrusted or
/// mismatched certificate, a failed handshake) rather than a refused connection.
pub(crate) fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<rustls::Error>() {
            return true;
        }
        // An `io::Error`'s `source` skips the error it wraps: look at that one itself.
        current = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_and_reason(text: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, text).unwrap();
        match client_config(Some(&path)) {
            Err(Error::Config { key, reason }) => (key, reason),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn a_file_without_certificates_is_refused_naming_the_key() {
        let (key, reason) = key_and_reason("just text\n");
        assert_eq!(key, CA_FILE_KEY);
        assert!(reason.contains("no certificate"), "{reason}");
        let (_, reason) =
            key_and_reason("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
        assert!(
            reason.contains("not PEM") || reason.contains("not usable"),
            "{reason}"
        );
    }
}
