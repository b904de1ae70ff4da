//! The OpenAPI document of the whole API: the operations of every route the
//! server serves, with the shared security schemes and error answers. `docs/openapi.json` is this
//! document as [`json`] prints it (`make openapi` rewrites the file; a test
//! checks the two agree).

use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// Every group's operations in one document: those of the routes
/// [`crate::routes`] serves, finished with the pieces every group shares.
pub fn document() -> OpenApi {
    let info = InfoBuilder::new()
        .title("KohakuRiver user management")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Users, roles, sessions, API tokens, invitations, groups, task approval, VPS assignment and audit. \
             Every error answer is `{\"detail\", \"code\", \"errors\"?}` (see `ErrorBody`).",
        ))
        .build();
    let api = OpenApiBuilder::new().info(info).build().merge_from(crate::routes().into_openapi());
    shared::http::openapi::finish(api)
}

/// The document as `docs/openapi.json` holds it: pretty-printed, ending in a newline.
pub fn json() -> serde_json::Result<String> {
    document().to_pretty_json().map(|text| text + "\n")
}
