//! progenitor's output for spec/hss-image-sync.yaml in one interface style (generated.rs),
//! with the stubs it names: the hooks' state type, an empty `ClientHooks` impl (the hooks'
//! defaults) and `null_as_empty` (copied from the main crate's `generated` module).

pub mod client {
    pub mod hooks {
        /// Stands in for the hand-written layer's state.
        #[derive(Clone, Debug, Default)]
        pub struct HookState;
    }
}

#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    clippy::all,
    unused_comparisons
)]
pub mod generated {
    include!("generated.rs");

    impl progenitor_client::ClientHooks<crate::client::hooks::HookState> for Client {}

    pub(crate) fn null_as_empty<'de, D, T>(decoder: D) -> Result<Vec<T>, D::Error>
    where
        D: serde::Deserializer<'de>,
        T: serde::Deserialize<'de>,
    {
        let list: Option<Vec<T>> = serde::Deserialize::deserialize(decoder)?;
        Ok(list.unwrap_or_default())
    }
}
