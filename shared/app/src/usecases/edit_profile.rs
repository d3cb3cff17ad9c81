use crate::error::AppError;
use crate::ports::{ProfileEditor, ProfileRecord, ViewCounter};
use crate::usecases::list_profiles::unflushed_views;
use chrono::{DateTime, Utc};
use domain::{KstDay, MemberId, ProfileEdit, ProfileEditForm};

pub struct EditProfileDeps<'a> {
    pub profiles: &'a dyn ProfileEditor,
    pub counter: &'a dyn ViewCounter,
}

/// The edited profile and its view count (not counting a view), and whether the count is
/// live.
#[derive(Debug, Clone)]
pub struct EditedProfile {
    pub profile: ProfileRecord,
    pub view_count: u64,
    pub counts_live: bool,
}

/// The owner edits their profile by the signup rules. After the answer no reader sees the
/// old document: the edit raises the profile's version in MySQL and the new document
/// replaces the cached one before the answer (a reader filling the cache with the row it
/// read before the edit carries the older version and cannot win). If the cache cannot
/// take it, the answer is "try again" (503): the edit is saved, and sending it again
/// makes it visible everywhere.
#[tracing::instrument(name = "edit_profile", skip_all, fields(member_id = member.0))]
pub async fn edit_profile(
    deps: &EditProfileDeps<'_>,
    member: MemberId,
    form: ProfileEditForm,
    now: DateTime<Utc>,
) -> Result<EditedProfile, AppError> {
    let edit = ProfileEdit::parse(form)?;
    let profile = deps
        .profiles
        .edit_profile(member, &edit)
        .await?
        .ok_or(AppError::ProfileNotFound)?;
    if let Err(e) = deps.counter.store_cached(&profile).await {
        tracing::error!(error = %e, profile_id = profile.id.0, "edit saved, cached document not replaced");
        return Err(e.into());
    }
    let (pending, counts_live) = unflushed_views(
        deps.counter,
        std::slice::from_ref(&profile),
        KstDay::of(now),
    )
    .await;
    Ok(EditedProfile {
        view_count: profile.flushed_views + pending[0],
        profile,
        counts_live,
    })
}
