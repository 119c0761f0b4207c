//! Playlist providers beyond the local catalog (docs/spotify.md): today Spotify.
//! A provider's client lives here (HTTP, OAuth, sealing tokens at rest);
//! what is stored and when is `services::spotify`'s business.

pub mod seal;
pub mod spotify;
