//! A throwaway PKI for TLS tests: a root CA, an intermediate, and leaf certificates signed by
//! it (ECDSA P-256, PKCS#8 keys), as PEM and as rustls configurations.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use wsproto::tls::{self, rustls};

/// A root CA and an intermediate CA under it.
pub struct Pki {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate: its chain (leaf, then intermediate) and key, as PEM.
pub struct Leaf {
    pub chain_pem: String,
    pub key_pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let root = CertifiedIssuer::self_signed(
            ca_params(&format!("{name} root")),
            KeyPair::generate().unwrap(),
        )
        .unwrap();
        let intermediate = CertifiedIssuer::signed_by(
            ca_params(&format!("{name} intermediate")),
            KeyPair::generate().unwrap(),
            &root,
        )
        .unwrap();
        Pki { root, intermediate }
    }

    /// The root certificate, PEM (what a client trusts).
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// A leaf for these names (DNS names or IP addresses) with a fresh ECDSA P-256 key,
    /// signed by the intermediate.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with_key(names, &KeyPair::generate().unwrap().serialize_pem())
    }

    /// A client configuration trusting only this root.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.der().clone()).unwrap();
        tls::client_config(roots).unwrap()
    }
}

impl Leaf {
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        tls::server_config(
            tls::certificates_from_pem(self.chain_pem.as_bytes()).unwrap(),
            tls::private_key_from_pem(self.key_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// Writes `cert.pem` and `key.pem` into `dir`.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

impl Pki {
    /// A leaf whose key is `key_pem` (any key rcgen can sign with: PKCS#8 RSA or ECDSA).
    pub fn leaf_with_key(&self, names: &[&str], key_pem: &str) -> Leaf {
        let key = KeyPair::from_pem(key_pem).unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.intermediate).unwrap();
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.intermediate.pem()),
            key_pem: key_pem.to_owned(),
        }
    }
}

impl Pki {
    /// Starts the `echo_server` example over TLS with `leaf` (its files written into `dir`);
    /// returns it and the path of this root's PEM (what `echo_client --ca` takes).
    pub fn echo_server_example(
        &self,
        leaf: &Leaf,
        dir: &Path,
    ) -> (super::example::Example, String) {
        let (cert, key) = leaf.write(dir);
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, self.root_pem()).unwrap();
        let server = super::example::start(
            "echo_server",
            &[
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        );
        (server, ca.to_str().unwrap().to_owned())
    }
}
