//! Behaviour tests over real files in a temporary directory.

mod behaviour;
mod cache;
mod mime_drift;
mod support;
mod traversal;
