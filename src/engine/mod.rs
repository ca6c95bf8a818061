//! The single writer's logic.
