//! An up-and-running lab, as the commands after `lab-up` find it.

use crate::egeria::EgeriaClient;
use crate::state::{LabDir, LabState, StateError, SubstrateKind};
use crate::substrate::local::LocalSubstrate;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no lab is up (nothing recorded in {0}); start one with `cargo xtask lab-up`")]
    NoLab(String),
    #[error(
        "the lab recorded in {state} (run {run_id}) is no longer running; run `cargo xtask lab-down` to forget it, then `cargo xtask lab-up`"
    )]
    Gone { state: String, run_id: String },
    #[error(transparent)]
    State(#[from] StateError),
}

pub struct Session {
    pub dir: LabDir,
    pub state: LabState,
    pub substrate: LocalSubstrate,
    pub client: EgeriaClient,
}

impl Session {
    pub fn open(dir: LabDir) -> Result<Self, SessionError> {
        let state_path = dir.state_path().display().to_string();
        let state = dir
            .load_state()?
            .ok_or_else(|| SessionError::NoLab(state_path.clone()))?;
        match state.substrate {
            SubstrateKind::Local => {
                if !crate::local::is_control_plane(state.local.control_plane_pid) {
                    return Err(SessionError::Gone {
                        state: state_path,
                        run_id: state.run_id,
                    });
                }
            }
        }
        let substrate = LocalSubstrate::new(state.local.api_address, state.endpoints.clone());
        let client = EgeriaClient::new(&state.settings.user);
        Ok(Self {
            dir,
            state,
            substrate,
            client,
        })
    }
}
