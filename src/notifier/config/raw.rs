//! The notifier config file as written (vmalert's keys), before it is checked. Unknown
//! keys are refused (`deny_unknown_fields`), as vmalert refuses them; entries that errors
//! point at are [`Spanned`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::relabel::RawRelabel;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    pub username: Option<String>,
    pub username_file: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub token_url: Option<String>,
    pub endpoint_params: Option<BTreeMap<String, String>>,
    pub tls_config: Option<RawTls>,
}

/// The HTTP client settings of a section, borrowed.
#[derive(Clone, Copy, Default)]
pub struct RawHttp<'a> {
    pub basic_auth: Option<&'a RawBasicAuth>,
    pub bearer_token: Option<&'a str>,
    pub bearer_token_file: Option<&'a str>,
    pub oauth2: Option<&'a RawOAuth2>,
    pub tls_config: Option<&'a RawTls>,
    pub headers: Option<&'a [String]>,
}

impl<'a> RawHttp<'a> {
    /// vmalert's `mergeHTTPClientConfigs`: each setting a static group leaves out comes
    /// from the top level.
    pub fn over(self, parent: RawHttp<'a>) -> RawHttp<'a> {
        RawHttp {
            basic_auth: self.basic_auth.or(parent.basic_auth),
            bearer_token: self.bearer_token.or(parent.bearer_token),
            bearer_token_file: self.bearer_token_file.or(parent.bearer_token_file),
            oauth2: self.oauth2.or(parent.oauth2),
            tls_config: self.tls_config.or(parent.tls_config),
            headers: self.headers.or(parent.headers),
        }
    }
}

/// Declares a section that carries the HTTP client settings besides its own fields.
macro_rules! with_http_client {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            pub basic_auth: Option<RawBasicAuth>,
            pub bearer_token: Option<String>,
            pub bearer_token_file: Option<String>,
            pub oauth2: Option<RawOAuth2>,
            pub tls_config: Option<RawTls>,
            pub headers: Option<Vec<String>>,
        }

        impl $name {
            pub fn http(&self) -> RawHttp<'_> {
                RawHttp {
                    basic_auth: self.basic_auth.as_ref(),
                    bearer_token: self.bearer_token.as_deref(),
                    bearer_token_file: self.bearer_token_file.as_deref(),
                    oauth2: self.oauth2.as_ref(),
                    tls_config: self.tls_config.as_ref(),
                    headers: self.headers.as_deref(),
                }
            }
        }
    };
}

with_http_client! {
    /// The whole file.
    pub struct RawConfig {
        pub scheme: Option<Spanned<String>>,
        pub path_prefix: Option<String>,
        pub timeout: Option<Spanned<String>>,
        #[serde(default)]
        pub static_configs: Vec<Spanned<RawStatic>>,
        #[serde(default)]
        pub dns_sd_configs: Vec<Spanned<RawDns>>,
        #[serde(default)]
        pub consul_sd_configs: Vec<Spanned<RawConsul>>,
        #[serde(default)]
        pub relabel_configs: Vec<Spanned<RawRelabel>>,
        #[serde(default)]
        pub alert_relabel_configs: Vec<Spanned<RawRelabel>>,
    }
}

with_http_client! {
    /// A `static_configs` entry: its settings override the top-level ones field by field.
    pub struct RawStatic {
        #[serde(default)]
        pub targets: Vec<String>,
        #[serde(default)]
        pub alert_relabel_configs: Vec<Spanned<RawRelabel>>,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub port: Option<u16>,
    #[serde(default)]
    pub alert_relabel_configs: Vec<Spanned<RawRelabel>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsul {
    pub server: Option<String>,
    pub token: Option<String>,
    pub datacenter: Option<String>,
    pub namespace: Option<String>,
    pub partition: Option<String>,
    pub scheme: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub node_meta: BTreeMap<String, String>,
    pub tag_separator: Option<String>,
    pub allow_stale: Option<bool>,
    pub filter: Option<String>,
    pub proxy_url: Option<String>,
    pub tls_config: Option<RawTls>,
    #[serde(default)]
    pub alert_relabel_configs: Vec<Spanned<RawRelabel>>,
}
