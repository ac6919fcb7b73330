//! Request builders shared by the HTTP API tests.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::Request;

/// A GET request for `uri`.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// A form-encoded POST of `form` to `uri`.
pub fn post_form(uri: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}
