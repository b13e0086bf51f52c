//! The library's errors: what failed, where (operation, region, account) and the source error; and the kind of
//! each failure, named for the people and machines that read invocation errors.

use crate::config::ConfigError;
use crate::ids::AccountId;

/// The error code given to a call that could not be made because assuming the admin role failed.
pub(crate) const ASSUME_ROLE_FAILED: &str = "AssumeRoleFailed";

/// A boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a reconcile or an onboarding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; nothing was called.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An AWS call failed after its retries.
    #[error(transparent)]
    Aws(Box<AwsError>),

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
    #[error("account {account} is {state} in the organization, not ACTIVE; nothing was changed")]
    NotActive {
        /// The account.
        account: AccountId,
        /// Its state.
        state: String,
    },

    /// An account to onboard is excluded by the configuration.
    #[error("account {0} is excluded by GUARDDUTY_EXCLUDED_ACCOUNTS or GUARDDUTY_EXCLUDED_OUS; nothing was changed")]
    Excluded(AccountId),

    /// GUARDDUTY_ENABLEMENT=api in an organization whose root has the GuardDuty policy type enabled; nothing was
    /// written.
    #[error(
        "GUARDDUTY_ENABLEMENT is api, but the organization has GuardDuty policies (policy type GUARDDUTY_POLICY) \
         enabled on its root {0}: the auto-enable settings api mode writes no longer apply there. Nothing was \
         written. Set GUARDDUTY_ENABLEMENT=auto to work beside the organization's GuardDuty policies, or =policy for \
         this tool to own one"
    )]
    PoliciesInForce(String),

    /// Another account is the delegated GuardDuty administrator where the configuration names a new one; nothing
    /// was written. Moving the delegated admin is a documented procedure of its own ("Changing the delegated
    /// GuardDuty administrator account", <https://docs.aws.amazon.com/guardduty/latest/ug/change-guardduty-delegated-admin.html>).
    #[error(
        "GUARDDUTY_ADMIN_ACCOUNT_ID is {configured}, but {designated} is the delegated GuardDuty administrator in \
         {regions}; nothing was written. To move the delegated administrator, in each Region, as {designated}: set \
         the organization configuration's auto-enable to NEW or NONE, DisassociateMembers and DeleteMembers for every \
         member; then, as the management account, DisableOrganizationAdminAccount {designated}; and once, \
         Organizations' DeregisterDelegatedAdministrator for guardduty.amazonaws.com (GuardDuty User Guide, \
         \"Changing the delegated GuardDuty administrator account\"). Then deploy again with {configured}; until \
         then, keep {designated}"
    )]
    AdminChanged {
        /// The admin the configuration names.
        configured: AccountId,
        /// The admin designated now.
        designated: String,
        /// Where.
        regions: String,
    },

    /// No region is left to govern.
    #[error("no region to govern: {0}")]
    NoRegions(String),

    /// A run held back before its first write by its gate ([`crate::RunOptions::gate`]); nothing was written.
    #[error("held back, nothing was written: {0}")]
    Held(String),

    /// An error several parts of a run share (the organization's view every region awaits): the one error, kept
    /// whole, so that its kind, code and region survive.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),

    /// An answer the code cannot act on (a response without the id it must carry, say); nothing further was sent.
    #[error("{0}")]
    Unexpected(String),
}

/// An AWS call that failed after its retries: the operation, where, as whom, and what the service said.
#[derive(Debug, thiserror::Error)]
#[error("{operation} in {region} as account {account} failed: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct AwsError {
    /// The API operation.
    pub operation: &'static str,
    /// The region called.
    pub region: String,
    /// The account whose credentials were used.
    pub account: String,
    /// The service's error code, when it gave one.
    pub code: Option<String>,
    /// The service's message, or a description of the transport failure.
    pub message: String,
    /// The SDK error.
    #[source]
    pub source: BoxError,
}

impl Error {
    /// The service's error code, for AWS errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Aws(e) => e.code.as_deref(),
            Self::Shared(e) => e.code(),
            _ => None,
        }
    }

    /// The service's message, for AWS errors.
    pub fn aws_message(&self) -> Option<&str> {
        match self {
            Self::Aws(e) => Some(&e.message),
            Self::Shared(e) => e.aws_message(),
            _ => None,
        }
    }

    /// Whether IAM refused the call under a service control policy: an access denied whose message names one. "When
    /// an SCP denies access, the error message always includes the phrase due to an explicit deny in a Service
    /// Control Policy, even if the denial is implicit" (IAM User Guide, "Troubleshoot access denied error messages",
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html>; its own example reads "with
    /// an explicit deny in a service control policy"): matched without case on "service control policy".
    pub fn is_scp_denial(&self) -> bool {
        match self {
            Self::Shared(e) => e.is_scp_denial(),
            Self::Aws(e) => {
                matches!(e.code.as_deref(), Some("AccessDeniedException" | "AccessDenied"))
                    && e.message.to_ascii_lowercase().contains("service control policy")
            }
            _ => false,
        }
    }

    /// Whether the service refused the request itself (a bad request, or access denied), as opposed to throttling, a
    /// fault of the service or the network: asking again would get the same answer.
    pub fn is_refusal(&self) -> bool {
        matches!(self.code(), Some("BadRequestException" | "AccessDeniedException" | "AccessDenied"))
    }

    /// Whether the configuration itself is at fault (a value no run can succeed with), as opposed to AWS or the
    /// input of one event.
    pub fn is_configuration(&self) -> bool {
        match self {
            Self::Shared(e) => e.is_configuration(),
            _ => matches!(self, Self::Config(_) | Self::AdminIsManagement(_) | Self::AdminNotInOrganization(_)),
        }
    }

    /// The kind of failure, as invocation errors name it (Lambda's `errorType`).
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Config(_) | Self::AdminIsManagement(_) | Self::AdminNotInOrganization(_) => {
                FailureKind::InvalidConfiguration
            }
            Self::Aws(e) if e.code.as_deref() == Some(ASSUME_ROLE_FAILED) => FailureKind::AdminRoleNotAssumable,
            Self::Aws(_) => FailureKind::AwsError,
            Self::NotInOrganization(_) => FailureKind::NotInOrganization,
            Self::NotActive { .. } => FailureKind::AccountNotActive,
            Self::Excluded(_) => FailureKind::AccountExcluded,
            Self::NoRegions(_) => FailureKind::NoRegionToGovern,
            Self::PoliciesInForce(_) => FailureKind::GuardDutyPoliciesInForce,
            Self::AdminChanged { .. } => FailureKind::AdminAccountChanged,
            Self::Held(_) => FailureKind::HeldBack,
            Self::Shared(e) => e.kind(),
            Self::Unexpected(_) => FailureKind::UnexpectedAnswer,
        }
    }
}

/// The failure kinds: the enum, `ALL` and `as_str` from one list (each kind's name is its spelling).
macro_rules! failure_kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// The kind of a failure, as invocation errors name it (Lambda's `errorType`, the command line's prefix, the
        /// FailureKind metric dimension). Serialized as it displays.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum FailureKind {
            $($(#[$doc])* $kind,)*
        }

        impl FailureKind {
            /// Every kind.
            pub const ALL: &'static [Self] = &[$(Self::$kind,)*];

            /// The name, in UpperCamelCase.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$kind => stringify!($kind),)*
                }
            }
        }
    };
}

failure_kinds! {
    /// The configuration is invalid: no run can succeed with it.
    InvalidConfiguration,
    /// A request (CloudFormation's, or the command line's) is invalid.
    InvalidRequest,
    /// An event is not what it should be.
    MalformedEvent,
    /// A CloudFormation request is not what it should be.
    MalformedRequest,
    /// An account to onboard is not in the organization.
    NotInOrganization,
    /// An account to onboard is not ACTIVE.
    AccountNotActive,
    /// An account to onboard is excluded by the configuration.
    AccountExcluded,
    /// An account is still being created.
    AccountCreationInProgress,
    /// Some regions did not reach the desired state.
    RegionsNotConverged,
    /// An onboarded account is not protected everywhere.
    AccountNotProtected,
    /// The admin's role could not be assumed.
    AdminRoleNotAssumable,
    /// An AWS call failed after its retries.
    AwsError,
    /// No region is left to govern.
    NoRegionToGovern,
    /// Api mode where GuardDuty policies are in force.
    GuardDutyPoliciesInForce,
    /// Another account is the delegated admin.
    AdminAccountChanged,
    /// A run was held back by its gate before its first write.
    HeldBack,
    /// An answer the code cannot act on.
    UnexpectedAnswer,
    /// The invocation ran out of time.
    OutOfTime,
    /// A fault of this code (a panic, say).
    InternalError,
    /// CloudFormation's response could not be delivered.
    ResponseNotDelivered,
    /// A tamper repair did not read back as it should.
    TamperNotRepaired,
    /// The command line found no AWS credentials.
    NoCredentials,
    /// The AWS endpoint could not be reached.
    EndpointUnreachable,
    /// AWS refused the credentials.
    CredentialsRefused,
    /// A root, unit or account named on the command line does not exist.
    TargetNotFound,
    /// A policy type the command needs is not enabled on the root.
    PolicyTypeNotEnabled,
    /// A policy would exceed what Organizations accepts.
    PolicyTooLarge,
    /// A file could not be read or written.
    FileError,
    /// The evidence store could not be read or written.
    EvidenceStoreError,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for FailureKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A failed invocation, as a function (or the command line) reports it: the kind of failure and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The kind.
    pub kind: FailureKind,
    /// What happened, in words a person can act on.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self { kind: e.kind(), message: e.to_string() }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Error::from(e).into()
    }
}

impl From<crate::guard::Interrupted> for Failure {
    fn from(e: crate::guard::Interrupted) -> Self {
        let kind = match e {
            crate::guard::Interrupted::Panicked(_) => FailureKind::InternalError,
            crate::guard::Interrupted::OutOfTime(_) => FailureKind::OutOfTime,
        };
        Self { kind, message: e.to_string() }
    }
}

#[cfg(feature = "lambda")]
impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(f: Failure) -> Self {
        Self { error_type: f.kind.as_str().to_owned(), error_message: f.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_error_keeps_its_kind_code_and_words() {
        // given an AWS error every region of a run shares
        let aws = Error::Aws(Box::new(AwsError {
            operation: "AssumeRole",
            region: "eu-west-1".into(),
            account: "111122223333".into(),
            code: Some(ASSUME_ROLE_FAILED.into()),
            message: "not assumable".into(),
            source: Box::new(std::io::Error::other("refused")),
        }));
        let words = aws.to_string();
        // when shared, then it reads as itself
        let shared = Error::Shared(std::sync::Arc::new(aws));
        assert_eq!(shared.kind(), FailureKind::AdminRoleNotAssumable);
        assert_eq!(shared.code(), Some(ASSUME_ROLE_FAILED));
        assert_eq!(shared.aws_message(), Some("not assumable"));
        assert_eq!(shared.to_string(), words);
        assert!(!shared.is_configuration());
    }

    #[test]
    fn each_failure_kind_serializes_and_displays_as_the_name_lambda_shows() {
        // given every kind, and the ones the README lists as errorType
        let documented = ["InvalidConfiguration", "MalformedEvent", "RegionsNotConverged", "OutOfTime"];
        let names: Vec<&str> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
        assert!(documented.iter().all(|d| names.contains(d)), "{names:?}");
        for &kind in FailureKind::ALL {
            // then each reads the same in JSON, in words and as its variant's name (UpperCamelCase)
            assert_eq!(serde_json::to_value(kind).ok(), Some(serde_json::json!(kind.as_str())));
            assert_eq!(kind.to_string(), format!("{kind:?}"));
        }
    }
}
