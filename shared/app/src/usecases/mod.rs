pub mod edit_profile;
pub mod flush_views;
pub mod list_profiles;
pub mod my_points;
pub mod payments;
pub mod recover_view_losses;
pub mod signup;
pub mod view_profile;
