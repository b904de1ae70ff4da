//! Pieces of the OpenAPI document every group shares: the error body, the
//! security schemes, and the error responses the pipeline itself can give.
//!
//! Each group annotates its handlers with `#[utoipa::path]` and lists only the
//! answers its own code gives (success, and the 403/404/409/429 it decides).
//! The answers that come from the shared extractors and layers are added here,
//! from what the operation declares, so they cannot be forgotten on one route
//! and stay true: a body can be malformed, a query mistyped, a path name nothing.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Object, OpenApi, Ref, RefOr, Type};

use crate::auth::cookie::SESSION_COOKIE as COOKIE_NAME;

/// `{"message": "..."}`: the answer of actions that return nothing else.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}

/// `{"message": "...", "sessions_ended": n}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    pub message: String,
    pub sessions_ended: u64,
}

/// A role a user may hold (requests naming `anony` or anything else get 422).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AssignableRole {
    Viewer,
    User,
    Operator,
    Admin,
}

/// Names of the security schemes (see docs/auth.md for the credentials).
const SESSION_COOKIE: &str = "session_cookie";
const BEARER: &str = "bearer";
const ADMIN_SECRET: &str = "admin_secret";

/// Operations that resolve no credentials and touch no store: they can answer
/// neither 401 nor 503.
const STORE_FREE: [(&str, &str); 3] =
    [("get", "/api/health"), ("get", "/api/auth/status"), ("get", "/api/openapi.json")];

/// Every credential kind, any one of which an authenticated operation accepts.
fn any_credential() -> Vec<SecurityRequirement> {
    [SESSION_COOKIE, BEARER, ADMIN_SECRET]
        .into_iter()
        .map(|name| SecurityRequirement::new::<_, [&str; 0], &str>(name, []))
        .collect()
}

/// The finished document: security schemes, the default security (any
/// credential) and the shared error responses on every operation.
pub fn finish(mut api: OpenApi) -> OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION_COOKIE,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            COOKIE_NAME,
            "The session cookie set by login and registration",
        ))),
    );
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A session token or an API token (`krv_...`)"))
                .build(),
        ),
    );
    components.add_security_scheme(
        ADMIN_SECRET,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Admin-Secret",
            "The break-glass key (`ADMIN_SECRET`); acts as the built-in system admin",
        ))),
    );
    for (schema, name) in [
        (<crate::error::ErrorBody<'_> as utoipa::PartialSchema>::schema(), "ErrorBody"),
        (<crate::error::FieldError as utoipa::PartialSchema>::schema(), "FieldError"),
    ] {
        components.schemas.insert(name.to_owned(), schema);
    }
    api.security = Some(any_credential());
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                operation.operation_id = Some(operation_id(method, path));
                add_pipeline_errors(method, path, operation);
            }
        }
    }
    api
}

/// A unique operation id from the method and path (`get_api_auth_users_id`):
/// handler names repeat across groups (`list`, `create`).
fn operation_id(method: &str, path: &str) -> String {
    let words = path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
    std::iter::once(method).chain(words).collect::<Vec<_>>().join("_")
}

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build(),
    )
}

/// Adds the answers of the shared extractors and layers that `operation` can
/// give, keeping any the group documented itself.
fn add_pipeline_errors(method: &str, path: &str, operation: &mut Operation) {
    let store_free = STORE_FREE.contains(&(method, path));
    // `security: [{}]` alone marks an operation that reads no credentials.
    let reads_credentials = !operation.security.as_ref().is_some_and(|s| s.iter().all(is_empty_requirement));
    let params = operation.parameters.as_deref().unwrap_or_default();
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_body = operation.request_body.is_some();

    let mut add = |status: &str, description: &str| {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
    };
    if has_body {
        add("400", "The body is not valid JSON");
        add("413", "The body is larger than 64 KiB");
        add("415", "The body is not declared as application/json");
        add("422", "A field of the body is missing, of the wrong type or invalid");
    }
    if has_query {
        add("422", "A query parameter is of the wrong type or invalid");
    }
    if has_path {
        add("404", "Nothing has that id (a malformed id names nothing either)");
    }
    if method != "get" && !store_free {
        add("403", "Refused: a cross-site request carrying the session cookie (CSRF)");
    }
    if reads_credentials && !store_free {
        add("401", "Missing, invalid or expired credentials, or a wrong admin secret");
    }
    if !store_free {
        add("503", "A backing store is unreachable, or authentication is disabled; see Retry-After");
    }
    let pages = params.iter().any(|p| p.parameter_in == ParameterIn::Query && p.name == "cursor");
    add_headers(operation, pages);
}

/// The headers the answers carry: `WWW-Authenticate` on 401, `Retry-After`
/// (whole seconds) on 429 and 503, `X-Next-Cursor` on a page that has a next one.
fn add_headers(operation: &mut Operation, pages: bool) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        let header = |schema_type: Type, description: &str| {
            HeaderBuilder::new().schema(Object::with_type(schema_type)).description(Some(description)).build()
        };
        match status.as_str() {
            "401" => {
                response
                    .headers
                    .insert("WWW-Authenticate".to_owned(), header(Type::String, "`Bearer realm=\"kohakuriver\"`"));
            }
            "429" | "503" => {
                response
                    .headers
                    .insert("Retry-After".to_owned(), header(Type::Integer, "Seconds to wait before trying again"));
            }
            "200" if pages => {
                response.headers.insert(
                    "X-Next-Cursor".to_owned(),
                    header(Type::String, "The `cursor` of the next page; absent on the last page"),
                );
            }
            _ => {}
        }
    }
}

fn is_empty_requirement(requirement: &SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(serde_json::Map::is_empty))
}

/// The error body for annotations: `body = shared::http::openapi::ErrorBody`.
pub type ErrorBody = crate::error::ErrorBody<'static>;

/// The rules of a human-chosen name (`users::parse_label`) as far as a JSON
/// Schema pattern can say them: at least one visible character, no control
/// character. The invisible and text-direction characters it also refuses
/// have no portable pattern; the description names them.
const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// A display name may be blank (it then means the username).
const DISPLAY_NAME_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

fn string_schema(nullable: bool) -> utoipa::openapi::ObjectBuilder {
    let kind = if nullable {
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::Type(Type::String)
    };
    utoipa::openapi::ObjectBuilder::new().schema_type(kind)
}

/// The name of a token or a group (for `schema_with`).
pub fn name() -> Object {
    string_schema(false)
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(NAME_PATTERN))
        .description(Some(
            "1 to 100 characters once trimmed; no control, invisible or text-direction characters; unique (a token's among its owner's tokens)",
        ))
        .build()
}

/// A new name, or null to keep the current one (for `schema_with`).
pub fn optional_name() -> Object {
    string_schema(true)
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(NAME_PATTERN))
        .description(Some("A new name (see `name` rules); null or absent keeps the current one"))
        .build()
}

/// A display name (for `schema_with`).
pub fn display_name() -> Object {
    string_schema(true)
        .max_length(Some(100))
        .pattern(Some(DISPLAY_NAME_PATTERN))
        .description(Some(
            "At most 100 characters; no control, invisible or text-direction characters; blank means the username",
        ))
        .build()
}
