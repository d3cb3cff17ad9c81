//! Pure domain of the expert-matching backend: what a member, a profile, a KST day and a
//! view counter slot are, and the rules that keep them valid. Nothing here does I/O, so
//! every rule is unit-tested without servers.

pub mod calendar;
pub mod error;
pub mod json;
pub mod listing;
pub mod member;
pub mod name_search;
pub mod payment;
pub mod points;
pub mod profile;
pub mod refund;
pub mod refund_account;
pub mod views;
pub mod webhook;

pub use calendar::KstDay;
pub use error::{ErrorCode, ValidationError};
pub use listing::{Cursor, PageSize, ProfileFilter, ProfileSort};
pub use member::{Email, MemberId, NewMember, Password, ProfileEdit, ProfileEditForm, SignupForm};
pub use profile::{Category, ProfileId, Region};
