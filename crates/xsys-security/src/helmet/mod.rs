//! helmet 8: the security headers, computed once per configuration.
//!
//! `helmet(options)` sets the same headers on every response (unless a CSP directive is a
//! function, which stays in JS), so the stage is a prepared list: applying it clones the list.

mod csp;
mod values;

use std::sync::Arc;

use http::HeaderValue;

pub use csp::{ContentSecurityPolicy, DirectiveValue, DEFAULT_DIRECTIVES};

use crate::error::{Error, Warning, WarningLevel};
use crate::header::Header;
use crate::js::{json_display, latin1_header_value, OptionValue};
use values::{
    aliased, coep_value, coop_value, corp_value, flag, hsts_from_option_value, hsts_value,
    policy_option, referrer_from_option_value, referrer_value, x_frame_value, xpcdp_error,
    xpcdp_value,
};

/// helmet's options, one field per header in helmet's order; `None` turns a header off
/// (`false` in JS). [`HelmetOptions::default`] is `helmet()`.
#[derive(Debug, Clone, PartialEq)]
pub struct HelmetOptions {
    pub content_security_policy: Option<ContentSecurityPolicy>,
    /// Off unless asked for, as in helmet 8.
    pub cross_origin_embedder_policy: Option<Policy>,
    pub cross_origin_opener_policy: Option<Policy>,
    pub cross_origin_resource_policy: Option<Policy>,
    pub origin_agent_cluster: bool,
    pub referrer_policy: Option<ReferrerPolicy>,
    pub strict_transport_security: Option<StrictTransportSecurity>,
    pub x_content_type_options: bool,
    pub x_dns_prefetch_control: Option<XDnsPrefetchControl>,
    pub x_download_options: bool,
    pub x_frame_options: Option<XFrameOptions>,
    pub x_permitted_cross_domain_policies: Option<XPermittedCrossDomainPolicies>,
    /// Remove `X-Powered-By` (helmet's `xPoweredBy`/`hidePoweredBy`).
    pub x_powered_by: bool,
    pub x_xss_protection: bool,
}

impl Default for HelmetOptions {
    fn default() -> Self {
        Self {
            content_security_policy: Some(ContentSecurityPolicy::default()),
            cross_origin_embedder_policy: None,
            cross_origin_opener_policy: Some(Policy::default()),
            cross_origin_resource_policy: Some(Policy::default()),
            origin_agent_cluster: true,
            referrer_policy: Some(ReferrerPolicy::default()),
            strict_transport_security: Some(StrictTransportSecurity::default()),
            x_content_type_options: true,
            x_dns_prefetch_control: Some(XDnsPrefetchControl::default()),
            x_download_options: true,
            x_frame_options: Some(XFrameOptions::default()),
            x_permitted_cross_domain_policies: Some(XPermittedCrossDomainPolicies::default()),
            x_powered_by: true,
            x_xss_protection: true,
        }
    }
}

/// `{ policy }` of the Cross-Origin-*-Policy headers; `None` is the header's own default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub policy: Option<String>,
}

/// `{ policy }` of Referrer-Policy: one or more tokens; `None` is `no-referrer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferrerPolicy {
    pub policy: Option<Vec<String>>,
}

/// `{ maxAge, includeSubDomains, preload }` of Strict-Transport-Security.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictTransportSecurity {
    /// Seconds; helmet floors it and refuses negatives and non-finite numbers.
    pub max_age: f64,
    pub include_sub_domains: bool,
    pub preload: bool,
}

impl Default for StrictTransportSecurity {
    fn default() -> Self {
        Self {
            max_age: 365.0 * 24.0 * 60.0 * 60.0,
            include_sub_domains: true,
            preload: false,
        }
    }
}

/// `{ allow }` of X-DNS-Prefetch-Control.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XDnsPrefetchControl {
    pub allow: bool,
}

/// `{ action }` of X-Frame-Options: `deny`, `sameorigin` or `same-origin`, any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XFrameOptions {
    pub action: String,
}

impl Default for XFrameOptions {
    fn default() -> Self {
        Self {
            action: "sameorigin".to_owned(),
        }
    }
}

/// `{ permittedPolicies }` of X-Permitted-Cross-Domain-Policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPermittedCrossDomainPolicies {
    pub permitted_policies: String,
}

impl Default for XPermittedCrossDomainPolicies {
    fn default() -> Self {
        Self {
            permitted_policies: "none".to_owned(),
        }
    }
}

/// The compiled stage: the headers `helmet(options)` sets, in the order it sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct Helmet {
    headers: Arc<[Header]>,
    removes_powered_by: bool,
    warnings: Vec<Warning>,
}

impl Helmet {
    /// Builds the stage from typed options, with helmet's validation.
    pub fn new(options: &HelmetOptions) -> Result<Helmet, Error> {
        let mut builder = Builder::default();
        if let Some(csp) = &options.content_security_policy {
            let (name, value) = csp.header()?;
            builder.set(name, &value)?;
        }
        if let Some(p) = &options.cross_origin_embedder_policy {
            builder.set(COEP.0, coep_value(p.policy.as_deref())?)?;
        }
        if let Some(p) = &options.cross_origin_opener_policy {
            builder.set(COOP.0, coop_value(p.policy.as_deref())?)?;
        }
        if let Some(p) = &options.cross_origin_resource_policy {
            builder.set(CORP.0, corp_value(p.policy.as_deref())?)?;
        }
        if options.origin_agent_cluster {
            builder.set("Origin-Agent-Cluster", "?1")?;
        }
        if let Some(p) = &options.referrer_policy {
            let tokens = p
                .policy
                .clone()
                .unwrap_or_else(|| vec!["no-referrer".to_owned()]);
            builder.set("Referrer-Policy", &referrer_value(&tokens)?)?;
        }
        if let Some(h) = &options.strict_transport_security {
            builder.set("Strict-Transport-Security", &hsts_value(h)?)?;
        }
        if options.x_content_type_options {
            builder.set("X-Content-Type-Options", "nosniff")?;
        }
        if let Some(d) = &options.x_dns_prefetch_control {
            builder.set("X-DNS-Prefetch-Control", if d.allow { "on" } else { "off" })?;
        }
        if options.x_download_options {
            builder.set("X-Download-Options", "noopen")?;
        }
        if let Some(x) = &options.x_frame_options {
            builder.set("X-Frame-Options", x_frame_value(&x.action)?)?;
        }
        if let Some(x) = &options.x_permitted_cross_domain_policies {
            builder.set(
                "X-Permitted-Cross-Domain-Policies",
                xpcdp_value(&x.permitted_policies)?,
            )?;
        }
        builder.removes_powered_by = options.x_powered_by;
        if options.x_xss_protection {
            builder.set("X-XSS-Protection", "0")?;
        }
        Ok(builder.finish())
    }

    /// `helmet(options)` for options as JS passed them: legacy aliases, `true`/`false`/objects,
    /// helmet's errors (in helmet's order) and its warnings.
    pub fn from_option_value(options: &OptionValue) -> Result<Helmet, Error> {
        let o = options;
        let mut b = Builder::default();
        match o.get("contentSecurityPolicy") {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                let (name, value) = ContentSecurityPolicy::default().header()?;
                b.set(name, &value)?;
            }
            OptionValue::Bool(false) => {}
            other => {
                let (name, value) = ContentSecurityPolicy::header_from_option_value(other)?;
                b.set(name, &value)?;
            }
        }
        match o.get("crossOriginEmbedderPolicy") {
            OptionValue::Undefined | OptionValue::Bool(false) => {}
            OptionValue::Bool(true) => b.set(COEP.0, coep_value(None)?)?,
            other => b.set(
                COEP.0,
                coep_value(policy_option(COEP.0, other)?.as_deref())?,
            )?,
        }
        match o.get("crossOriginOpenerPolicy") {
            OptionValue::Undefined | OptionValue::Bool(true) => b.set(COOP.0, COOP.1)?,
            OptionValue::Bool(false) => {}
            other => b.set(
                COOP.0,
                coop_value(policy_option(COOP.0, other)?.as_deref())?,
            )?,
        }
        match o.get("crossOriginResourcePolicy") {
            OptionValue::Undefined | OptionValue::Bool(true) => b.set(CORP.0, CORP.1)?,
            OptionValue::Bool(false) => {}
            other => b.set(
                CORP.0,
                corp_value(policy_option(CORP.0, other)?.as_deref())?,
            )?,
        }
        match o.get("originAgentCluster") {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                b.set("Origin-Agent-Cluster", "?1")?
            }
            OptionValue::Bool(false) => {}
            _ => {
                b.warn("Origin-Agent-Cluster does not take options. Remove the property to silence this warning.");
                b.set("Origin-Agent-Cluster", "?1")?;
            }
        }
        match o.get("referrerPolicy") {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                b.set("Referrer-Policy", "no-referrer")?
            }
            OptionValue::Bool(false) => {}
            other => b.set("Referrer-Policy", &referrer_from_option_value(other)?)?,
        }
        match aliased(
            o,
            "strictTransportSecurity",
            "hsts",
            "Strict-Transport-Security",
        )? {
            OptionValue::Undefined | OptionValue::Bool(true) => b.set(
                "Strict-Transport-Security",
                &hsts_value(&StrictTransportSecurity::default())?,
            )?,
            OptionValue::Bool(false) => {}
            other => b.set(
                "Strict-Transport-Security",
                &hsts_value(&hsts_from_option_value(other)?)?,
            )?,
        }
        if flag(
            &mut b,
            o,
            "xContentTypeOptions",
            "noSniff",
            "X-Content-Type-Options",
        )? {
            b.set("X-Content-Type-Options", "nosniff")?;
        }
        match aliased(
            o,
            "xDnsPrefetchControl",
            "dnsPrefetchControl",
            "X-DNS-Prefetch-Control",
        )? {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                b.set("X-DNS-Prefetch-Control", "off")?
            }
            OptionValue::Bool(false) => {}
            other => {
                if matches!(other, OptionValue::Null) {
                    // Unreachable through `??`, kept for the shape of helmet's switch.
                    b.set("X-DNS-Prefetch-Control", "off")?;
                } else {
                    let allow = other.get("allow").is_truthy();
                    b.set("X-DNS-Prefetch-Control", if allow { "on" } else { "off" })?;
                }
            }
        }
        if flag(
            &mut b,
            o,
            "xDownloadOptions",
            "ieNoOpen",
            "X-Download-Options",
        )? {
            b.set("X-Download-Options", "noopen")?;
        }
        match aliased(o, "xFrameOptions", "frameguard", "X-Frame-Options")? {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                b.set("X-Frame-Options", "SAMEORIGIN")?
            }
            OptionValue::Bool(false) => {}
            other => {
                let value = match other.get("action") {
                    OptionValue::Undefined => "SAMEORIGIN",
                    OptionValue::String(action) => x_frame_value(action)?,
                    action => {
                        return Err(Error::invalid(format!(
                            "X-Frame-Options received an invalid action {}",
                            json_display(action)
                        )))
                    }
                };
                b.set("X-Frame-Options", value)?;
            }
        }
        match aliased(
            o,
            "xPermittedCrossDomainPolicies",
            "permittedCrossDomainPolicies",
            "X-Permitted-Cross-Domain-Policies",
        )? {
            OptionValue::Undefined | OptionValue::Bool(true) => {
                b.set("X-Permitted-Cross-Domain-Policies", "none")?
            }
            OptionValue::Bool(false) => {}
            other => {
                let value = match other.get("permittedPolicies") {
                    OptionValue::Undefined => "none",
                    OptionValue::String(p) => xpcdp_value(p)?,
                    p => return Err(xpcdp_error(p)),
                };
                b.set("X-Permitted-Cross-Domain-Policies", value)?;
            }
        }
        b.removes_powered_by = flag(&mut b, o, "xPoweredBy", "hidePoweredBy", "X-Powered-By")?;
        if flag(&mut b, o, "xXssProtection", "xssFilter", "X-XSS-Protection")? {
            b.set("X-XSS-Protection", "0")?;
        }
        Ok(b.finish())
    }

    /// The headers to set on every response, in helmet's order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The same list, shared: a response can hold it until its head is written.
    pub fn shared_headers(&self) -> Arc<[Header]> {
        Arc::clone(&self.headers)
    }

    /// Whether the response loses its `X-Powered-By` (Express's, set before any middleware).
    pub fn removes_powered_by(&self) -> bool {
        self.removes_powered_by
    }

    /// What helmet prints with `console.warn` when set up with these options.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

#[derive(Default)]
struct Builder {
    headers: Vec<Header>,
    removes_powered_by: bool,
    warnings: Vec<Warning>,
}

impl Builder {
    fn set(&mut self, name: &'static str, value: &str) -> Result<(), Error> {
        if let Some(fixed) = FIXED_VALUES.iter().find(|fixed| **fixed == value) {
            self.headers
                .push(Header::new(name, HeaderValue::from_static(fixed)));
            return Ok(());
        }
        // Node's setHeader throws on each request for characters it cannot send; the JS
        // middleware's failure is not something to reproduce here.
        let value = latin1_header_value(value).ok_or_else(|| {
            Error::not_native(format!(
                "{name} would carry a character Node refuses in a header value"
            ))
        })?;
        self.headers.push(Header::new(name, value));
        Ok(())
    }

    fn warn(&mut self, message: &str) {
        self.warnings.push(Warning {
            code: None,
            message: message.to_owned(),
            level: WarningLevel::Warn,
        });
    }

    fn finish(self) -> Helmet {
        Helmet {
            headers: self.headers.into(),
            removes_powered_by: self.removes_powered_by,
            warnings: self.warnings,
        }
    }
}

/// helmet's defaults and other fixed values. A value built at run time is reference-counted, and
/// every response's copy of it counts (an atomic operation each way, shared between I/O threads);
/// a static one is copied for free. Compared whole, so a value used is exactly the one built.
const FIXED_VALUES: [&str; 20] = [
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    "max-age=31536000; includeSubDomains",
    "same-origin",
    "same-origin-allow-popups",
    "same-site",
    "cross-origin",
    "unsafe-none",
    "require-corp",
    "credentialless",
    "?1",
    "no-referrer",
    "nosniff",
    "off",
    "on",
    "noopen",
    "SAMEORIGIN",
    "DENY",
    "none",
    "0",
    "strict-origin-when-cross-origin",
];

const COEP: (&str, &str) = ("Cross-Origin-Embedder-Policy", "require-corp");
const COOP: (&str, &str) = ("Cross-Origin-Opener-Policy", "same-origin");
const CORP: (&str, &str) = ("Cross-Origin-Resource-Policy", "same-origin");

#[cfg(test)]
mod tests;
