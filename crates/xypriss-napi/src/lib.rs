//! The Node-API binding of xypriss: converts between JS values and the core crates' types, maps
//! their errors to JS errors with stable `XYP_ERR_*` codes, and does nothing else.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod batch;
mod errors;
mod exchange;
#[cfg(test)]
mod generated;
mod prelude;
mod security;
mod server;
mod static_files;
mod target;
mod xems;

pub use exchange::*;
pub use prelude::*;
pub use security::*;
pub use server::*;
pub use static_files::*;
pub use target::*;
pub use xems::*;
