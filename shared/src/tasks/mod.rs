//! Tasks: the model and its rules (model.rs), the stored record (record.rs),
//! writes and single reads (store.rs), lists (list.rs), the API view
//! (view.rs) and the scheduler webhook (dispatch.rs).

pub mod dispatch;
pub mod list;
pub mod model;
pub mod record;
pub mod store;
pub mod view;

pub use list::*;
pub use model::*;
pub use record::*;
pub use store::*;
pub use view::*;
