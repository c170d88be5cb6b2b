//! Authentication and authorisation of every route: the route table names the roles each
//! method of each path admits; one middleware authenticates the key, checks its role against
//! the table, hands the principal to the handler and records `/api` changes in the audit log.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use gantry_core::access::{audit_entry, record_audit};
use gantry_core::{AccessControl, AccessError};
use gantry_types::KeyRole;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    /// Anyone, without a key (health checks, the API description).
    Public,
    /// Keys of these roles.
    Only(&'static [KeyRole]),
}

impl Roles {
    /// Whether a key of `role` may call the route.
    pub fn admits(self, role: KeyRole) -> bool {
        match self {
            Roles::Public => true,
            Roles::Only(roles) => roles.contains(&role),
        }
    }
}

/// One method of one path and who may call it.
#[derive(Debug, Clone)]
pub struct RouteAccess {
    pub method: Method,
    pub path: &'static str,
    pub roles: Roles,
}

/// A handler for one HTTP method, as the route table lists it.
pub struct Endpoint {
    method: Method,
    router: MethodRouter<AppState>,
}

macro_rules! endpoint {
    ($($name:ident => $method:ident),* $(,)?) => {$(
        /// The handler of this method.
        pub fn $name<H, T>(handler: H) -> Endpoint
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            Endpoint { method: Method::$method, router: axum::routing::$name(handler) }
        }
    )*};
}

endpoint!(get => GET, post => POST, put => PUT, delete => DELETE);

/// The routes and the roles each admits, built by `router.rs`.
#[derive(Default)]
pub struct RouteTable {
    paths: BTreeMap<&'static str, MethodRouter<AppState>>,
    access: Vec<RouteAccess>,
}

impl RouteTable {
    /// Adds `endpoint` at `path`, callable by `roles`.
    pub fn route(mut self, path: &'static str, endpoint: Endpoint, roles: Roles) -> Self {
        let router = match self.paths.remove(path) {
            Some(existing) => existing.merge(endpoint.router),
            None => endpoint.router,
        };
        self.paths.insert(path, router);
        self.access.push(RouteAccess { method: endpoint.method, path, roles });
        self
    }

    /// Every route and who may call it.
    pub fn access(&self) -> &[RouteAccess] {
        &self.access
    }

    /// The router, each route behind the access check.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        let mut rules: Rules = HashMap::new();
        for rule in &self.access {
            rules.entry(rule.path).or_default().insert(rule.method.clone(), rule.roles);
        }
        let guard = Guard { access: state.access.clone(), rules: Arc::new(rules) };
        let mut router = Router::new();
        for (path, methods) in self.paths {
            router = router.route(path, methods);
        }
        router.route_layer(axum::middleware::from_fn_with_state(guard, authorize))
    }
}

/// What the middleware needs: the key checks and the table's rules.
#[derive(Clone)]
struct Guard {
    access: Arc<AccessControl>,
    rules: Arc<Rules>,
}

/// The roles of each method of each path.
type Rules = HashMap<&'static str, HashMap<Method, Roles>>;

/// Ids a handler adds to its response for the audit log (e.g. the id of what it created).
#[derive(Debug, Clone, Default)]
pub struct AuditIds(pub Vec<String>);

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        let retry_after = err.retry_after();
        let budget = matches!(err, AccessError::BudgetExceeded { .. });
        let mut api = ApiError::from_domain(err);
        api.retry_after = retry_after;
        if budget {
            // What OpenAI answers when an account's quota is used up.
            api.body.error.kind = "insufficient_quota".to_string();
        }
        api
    }
}

/// The key a request carries: `Authorization: Bearer KEY`, else `x-api-key: KEY`.
fn presented_key(headers: &HeaderMap) -> Result<Option<String>, AccessError> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default().trim();
        let token = text
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty());
        return match token {
            Some(token) => Ok(Some(token.to_string())),
            None => Err(AccessError::InvalidKey("The Authorization header must be 'Bearer gk-...'.".to_string())),
        };
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Ok(Some(key.trim().to_string()));
    }
    Ok(cookie_key(headers))
}

/// The key the web UI's login left in its cookie.
fn cookie_key(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{}=", crate::ui::pages::login::KEY_COOKIE);
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .find_map(|pair| pair.strip_prefix(prefix.as_str()))
        .filter(|key| !key.is_empty())
        .map(str::to_string)
}

/// Whether `path` is a page of the web UI, where a refused key means "sign in" rather than JSON.
fn is_ui_page(path: &str, method: &Method) -> bool {
    *method == Method::GET && (path == "/" || (path.starts_with("/ui/") && !path.starts_with("/ui/static/")))
}

/// Percent-encodes everything but unreserved characters, for a URL's query value.
fn url_encode(text: &str) -> impl Iterator<Item = String> + '_ {
    text.bytes().map(|b| match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
        _ => format!("%{b:02X}"),
    })
}

fn is_loopback(request: &Request) -> bool {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| addr.ip().to_canonical().is_loopback())
}

/// Authenticates, checks the role against the table, runs the handler with the principal and
/// records the change when the route changes something under `/api`.
async fn authorize(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(request).await;
    };
    // HEAD is answered by the GET handler, so it needs what GET needs.
    let method = if request.method() == Method::HEAD { Method::GET } else { request.method().clone() };
    let roles = match guard.rules.get(path.as_str()).and_then(|methods| methods.get(&method)) {
        // A method the path does not serve: the router answers 405 without running anything.
        None | Some(Roles::Public) => return next.run(request).await,
        Some(roles) => *roles,
    };
    let principal = match presented_key(request.headers()) {
        Ok(secret) => guard.access.authenticate(secret.as_deref(), is_loopback(&request)).await,
        Err(e) => Err(e),
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(AccessError::InvalidKey(_)) if is_ui_page(&path, &method) => {
            let next = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
            let mut target = String::from("/ui/login?next=");
            target.extend(url_encode(&next));
            return axum::response::Redirect::to(&target).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let audited = method != Method::GET && path.starts_with("/api/");
    let uri = request.uri().path().to_string();
    let (mut parts, body) = request.into_parts();
    let mut ids: Vec<String> = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => params.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        Err(_) => Vec::new(),
    };
    let response = if roles.admits(principal.role()) {
        parts.extensions.insert(principal.clone());
        next.run(Request::from_parts(parts, body)).await
    } else {
        let refused = AccessError::InsufficientRole { role: principal.role(), action: format!("call {method} {path}") };
        ApiError::from(refused).into_response()
    };
    if audited {
        if let Some(AuditIds(more)) = response.extensions().get::<AuditIds>() {
            ids.extend(more.iter().cloned());
        }
        let entry = audit_entry(
            principal.actor(),
            method.as_str(),
            &uri,
            response.status().as_u16(),
            ids,
            guard.access.utc_now(),
        );
        if let Err(e) = record_audit(guard.access.store().as_ref(), &entry).await {
            tracing::error!(error = %e, code = e.code(), method = %method, path = %uri, "could not write the audit entry");
        }
    }
    response
}
