//! Where flags come from, and the auth/TLS flag family of every HTTP client.

use super::*;

/// Where flags come from besides the command line, and which are secret.
#[derive(Debug, Args, Clone, Default)]
pub struct FlagSources {
    /// Also read flags from environment variables (the flag name with dots as
    /// underscores, after `-envflag.prefix`); the command line wins.
    #[arg(long = "envflag.enable", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub envflag_enable: bool,
    /// Prefix of the environment variables read with `-envflag.enable`.
    #[arg(long = "envflag.prefix", default_value = "")]
    pub envflag_prefix: String,
    /// Flags whose values are secret (comma-separated names), masked in `/flags` and logs;
    /// names containing pass, key, secret or token, and -X.headers, always are.
    #[arg(long = "secret.flags", value_name = "NAMES")]
    pub secret_flags: Vec<String>,
}

/// Declares the auth/TLS flag family vmalert gives every HTTP endpoint
/// (`-<prefix>.basicAuth.username`, `-<prefix>.bearerToken`, `-<prefix>.tlsCAFile`, …).
/// `$t` is `String` for single-endpoint flags and `Vec<String>` for `-notifier.*`, whose
/// values pair up with the `-notifier.url` at the same position, as in vmalert.
macro_rules! endpoint_auth_flags {
    ($name:ident, $prefix:literal, $t:ty) => {
        #[doc = concat!("Authentication and TLS for `-", $prefix, ".url`.")]
        #[derive(Debug, Args, Clone, Default)]
        pub struct $name {
            /// Basic-auth user name.
            #[arg(id = concat!($prefix, ".basicAuth.username"), long = concat!($prefix, ".basicAuth.username"))]
            pub basic_auth_username: $t,
            /// File holding the basic-auth user name (re-read when it changes).
            #[arg(id = concat!($prefix, ".basicAuth.usernameFile"), long = concat!($prefix, ".basicAuth.usernameFile"))]
            pub basic_auth_username_file: $t,
            /// Basic-auth password.
            #[arg(id = concat!($prefix, ".basicAuth.password"), long = concat!($prefix, ".basicAuth.password"))]
            pub basic_auth_password: $t,
            /// File holding the basic-auth password (re-read when it changes).
            #[arg(id = concat!($prefix, ".basicAuth.passwordFile"), long = concat!($prefix, ".basicAuth.passwordFile"))]
            pub basic_auth_password_file: $t,
            /// Bearer token for the `Authorization` header.
            #[arg(id = concat!($prefix, ".bearerToken"), long = concat!($prefix, ".bearerToken"))]
            pub bearer_token: $t,
            /// File holding the bearer token (re-read when it changes).
            #[arg(id = concat!($prefix, ".bearerTokenFile"), long = concat!($prefix, ".bearerTokenFile"))]
            pub bearer_token_file: $t,
            /// OAuth2 client ID (client credentials grant; the token is renewed before it
            /// expires).
            #[arg(id = concat!($prefix, ".oauth2.clientID"), long = concat!($prefix, ".oauth2.clientID"))]
            pub oauth2_client_id: $t,
            /// OAuth2 client secret.
            #[arg(id = concat!($prefix, ".oauth2.clientSecret"), long = concat!($prefix, ".oauth2.clientSecret"))]
            pub oauth2_client_secret: $t,
            /// File holding the OAuth2 client secret (re-read when it changes).
            #[arg(id = concat!($prefix, ".oauth2.clientSecretFile"), long = concat!($prefix, ".oauth2.clientSecretFile"))]
            pub oauth2_client_secret_file: $t,
            /// OAuth2 scopes, separated by `;`.
            #[arg(id = concat!($prefix, ".oauth2.scopes"), long = concat!($prefix, ".oauth2.scopes"))]
            pub oauth2_scopes: $t,
            /// OAuth2 token endpoint.
            #[arg(id = concat!($prefix, ".oauth2.tokenUrl"), long = concat!($prefix, ".oauth2.tokenUrl"))]
            pub oauth2_token_url: $t,
            /// Extra parameters of the token request, as JSON: `{"audience":"x"}`.
            #[arg(id = concat!($prefix, ".oauth2.endpointParams"), long = concat!($prefix, ".oauth2.endpointParams"))]
            pub oauth2_endpoint_params: $t,
            /// Extra HTTP headers, `'Name: value^^Name2: value2'`.
            #[arg(id = concat!($prefix, ".headers"), long = concat!($prefix, ".headers"), value_parser = parse_header_list)]
            pub headers: $t,
            /// CA certificate file to verify the server.
            #[arg(id = concat!($prefix, ".tlsCAFile"), long = concat!($prefix, ".tlsCAFile"))]
            pub tls_ca_file: $t,
            /// Client certificate file.
            #[arg(id = concat!($prefix, ".tlsCertFile"), long = concat!($prefix, ".tlsCertFile"))]
            pub tls_cert_file: $t,
            /// Client key file.
            #[arg(id = concat!($prefix, ".tlsKeyFile"), long = concat!($prefix, ".tlsKeyFile"))]
            pub tls_key_file: $t,
            /// Name to verify the server's certificate against instead of the URL's host.
            #[arg(id = concat!($prefix, ".tlsServerName"), long = concat!($prefix, ".tlsServerName"))]
            pub tls_server_name: $t,
            /// Skip certificate verification (testing only).
            #[arg(id = concat!($prefix, ".tlsInsecureSkipVerify"), long = concat!($prefix, ".tlsInsecureSkipVerify"), default_value = "false",
                  action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true",
                  require_equals = true)]
            pub tls_insecure_skip_verify: bool,
        }

        impl $name {
            /// The value of `-<prefix>.<key>` for the `i`-th URL.
            pub fn value(&self, key: &str, i: usize) -> Option<String> {
                self.field(key).and_then(|v| ClientFlagValue::at(v, i))
            }

            /// The suffixes of the flags that hold a value (`tlsInsecureSkipVerify` when
            /// true), in [`CLIENT_FLAG_KEYS`]' order.
            pub fn given(&self) -> Vec<&'static str> {
                let mut out: Vec<&'static str> = (CLIENT_FLAG_KEYS.iter().copied())
                    .filter(|k| self.field(k).is_some_and(ClientFlagValue::any))
                    .collect();
                if self.tls_insecure_skip_verify {
                    out.push("tlsInsecureSkipVerify");
                }
                out
            }

            fn field(&self, key: &str) -> Option<&$t> {
                Some(match key {
                    "basicAuth.username" => &self.basic_auth_username,
                    "basicAuth.usernameFile" => &self.basic_auth_username_file,
                    "basicAuth.password" => &self.basic_auth_password,
                    "basicAuth.passwordFile" => &self.basic_auth_password_file,
                    "bearerToken" => &self.bearer_token,
                    "bearerTokenFile" => &self.bearer_token_file,
                    "oauth2.clientID" => &self.oauth2_client_id,
                    "oauth2.clientSecret" => &self.oauth2_client_secret,
                    "oauth2.clientSecretFile" => &self.oauth2_client_secret_file,
                    "oauth2.scopes" => &self.oauth2_scopes,
                    "oauth2.tokenUrl" => &self.oauth2_token_url,
                    "oauth2.endpointParams" => &self.oauth2_endpoint_params,
                    "headers" => &self.headers,
                    "tlsCAFile" => &self.tls_ca_file,
                    "tlsCertFile" => &self.tls_cert_file,
                    "tlsKeyFile" => &self.tls_key_file,
                    "tlsServerName" => &self.tls_server_name,
                    _ => return None,
                })
            }
        }
    };
}

/// A flag value of one client: a single value, or vmalert's per-URL lists.
pub trait ClientFlagValue {
    /// The value for the `i`-th URL, as vmalert's `GetOptionalArg`: a list with one value
    /// applies it to every URL; empty values count as unset.
    fn at(&self, i: usize) -> Option<String>;
    /// Whether any value is set (not empty).
    fn any(&self) -> bool;
}

/// The suffixes of the string flags of every client's auth/TLS family.
pub const CLIENT_FLAG_KEYS: [&str; 17] = [
    "basicAuth.username",
    "basicAuth.usernameFile",
    "basicAuth.password",
    "basicAuth.passwordFile",
    "bearerToken",
    "bearerTokenFile",
    "oauth2.clientID",
    "oauth2.clientSecret",
    "oauth2.clientSecretFile",
    "oauth2.scopes",
    "oauth2.tokenUrl",
    "oauth2.endpointParams",
    "headers",
    "tlsCAFile",
    "tlsCertFile",
    "tlsKeyFile",
    "tlsServerName",
];

impl ClientFlagValue for Option<String> {
    fn at(&self, _: usize) -> Option<String> {
        self.clone().filter(|v| !v.is_empty())
    }
    fn any(&self) -> bool {
        self.as_ref().is_some_and(|v| !v.is_empty())
    }
}

impl ClientFlagValue for Vec<String> {
    fn at(&self, i: usize) -> Option<String> {
        let v = match self.len() {
            1 => self.first(),
            _ => self.get(i),
        };
        v.cloned().filter(|v| !v.is_empty())
    }
    fn any(&self) -> bool {
        self.iter().any(|v| !v.is_empty())
    }
}

endpoint_auth_flags!(DatasourceAuth, "datasource", Option<String>);
endpoint_auth_flags!(RemoteWriteAuth, "remoteWrite", Option<String>);
endpoint_auth_flags!(RemoteReadAuth, "remoteRead", Option<String>);
endpoint_auth_flags!(NotifierAuth, "notifier", Vec<String>);
