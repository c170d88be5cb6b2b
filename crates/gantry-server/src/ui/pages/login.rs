//! `/ui/login`: a browser keeps the key in an HttpOnly, SameSite=Strict cookie, which the
//! access check reads like the Authorization header; other sites' pages cannot send it.

use crate::ui::{render, UiError};
use crate::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;
use std::net::SocketAddr;

/// The cookie that carries the key.
pub const KEY_COOKIE: &str = "gantry_key";

/// Where to go after signing in.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only a path on this server, so the login cannot send a browser elsewhere.
fn local_path(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).unwrap_or_else(|| "/".to_string())
}

/// `GET /ui/login`.
pub async fn form(Query(query): Query<LoginQuery>) -> Result<Html<String>, UiError> {
    render("login.html", context! { nav => "", next => local_path(query.next), error => None::<String> })
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    key: String,
    next: Option<String>,
}

/// `POST /ui/login`: checks the key, then sets the cookie and goes on to `next`.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(login): Form<LoginForm>,
) -> Response {
    let next = local_path(login.next);
    let key = login.key.trim().to_string();
    let loopback = peer.ip().to_canonical().is_loopback();
    match state.access.authenticate(Some(&key), loopback).await {
        Ok(_) => {
            let cookie = format!("{KEY_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000");
            let mut response = Redirect::to(&next).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            let page = render("login.html", context! { nav => "", next, error => e.to_string() });
            match page {
                Ok(html) => (StatusCode::UNAUTHORIZED, html).into_response(),
                Err(e) => e.into_response(),
            }
        }
    }
}

/// `POST /ui/logout`: forgets the key.
pub async fn logout() -> Response {
    let mut response = Redirect::to("/ui/login").into_response();
    let cookie = format!("{KEY_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(local_path(Some("/ui/traces?x=1".into())), "/ui/traces?x=1");
        assert_eq!(local_path(Some("https://evil.example".into())), "/");
        assert_eq!(local_path(Some("//evil.example".into())), "/");
        assert_eq!(local_path(None), "/");
    }
}
