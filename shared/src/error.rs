//! The library's errors: what failed, where (operation, region, account) and the source error.

use crate::config::ConfigError;
use crate::ids::AccountId;

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a reconcile or an onboarding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; nothing was called.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An AWS call failed after its retries.
    #[error("{operation} in {region} as account {account} failed: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Aws {
        /// The API operation.
        operation: &'static str,
        /// The region called.
        region: String,
        /// The account whose credentials were used.
        account: String,
        /// The service's error code, when it gave one.
        code: Option<String>,
        /// The service's message, or a description of the transport failure.
        message: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },

    /// The configured admin is the management account, which least privilege rules out unless allowed.
    #[error(
        "GUARDDUTY_ADMIN_ACCOUNT_ID {0} is the organization's management account; designate a member account \
         (least privilege) or set GUARDDUTY_ALLOW_MANAGEMENT_ADMIN=true"
    )]
    AdminIsManagement(AccountId),

    /// The configured admin is not an ACTIVE account of the organization.
    #[error("GUARDDUTY_ADMIN_ACCOUNT_ID {0} is not an ACTIVE account of this organization")]
    AdminNotInOrganization(AccountId),

    /// An account to onboard is not in the organization.
    #[error("account {0} is not an account of this organization; nothing was changed")]
    NotInOrganization(AccountId),

    /// An account to onboard is in the organization but not ACTIVE.
    #[error("account {account} is {status} in the organization, not ACTIVE; nothing was changed")]
    NotActive {
        /// The account.
        account: AccountId,
        /// Its status.
        status: String,
    },

    /// An account to onboard is excluded by the configuration.
    #[error("account {0} is excluded by GUARDDUTY_EXCLUDED_ACCOUNTS or GUARDDUTY_EXCLUDED_OUS; nothing was changed")]
    Excluded(AccountId),

    /// No region is left to govern.
    #[error("no region to govern: {0}")]
    NoRegions(String),
}

impl Error {
    /// The service's error code, for AWS errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The service's message, for AWS errors.
    pub fn aws_message(&self) -> Option<&str> {
        match self {
            Self::Aws { message, .. } => Some(message),
            _ => None,
        }
    }
}
