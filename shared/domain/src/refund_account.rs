//! The account a refund of a deposited virtual account is paid to: Toss's cancel API takes
//! it as `refundReceiveAccount {bank, accountNumber, holderName}` (docs/toss.md §3, §7b),
//! since the money came by bank transfer and has no card to go back to.

use crate::error::ValidationError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundAccount {
    /// Toss's bank code (e.g. `88`) or bank name.
    pub bank: String,
    pub account_number: String,
    pub holder_name: String,
}

/// The form's fields as sent (each may be missing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundAccountForm {
    pub bank: Option<String>,
    pub account_number: Option<String>,
    pub holder_name: Option<String>,
}

impl RefundAccountForm {
    pub fn parse(self) -> Result<RefundAccount, ValidationError> {
        let text = |value: Option<String>, field: &str, max: usize| {
            let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
            let chars = value.chars().count();
            if chars == 0 || chars > max || value.chars().any(char::is_control) {
                return Err(ValidationError::invalid(
                    field,
                    format!("1자 이상 {max}자 이하여야 합니다."),
                ));
            }
            Ok(value)
        };
        let bank = text(self.bank, "refundAccount.bank", 20)?;
        let account_number = text(self.account_number, "refundAccount.accountNumber", 30)?;
        let digits = account_number.replace('-', "");
        let digits_only = account_number
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-');
        if !digits_only || !(6..=20).contains(&digits.len()) {
            return Err(ValidationError::invalid(
                "refundAccount.accountNumber",
                "숫자 6~20자리여야 합니다 (-는 빼고 셉니다).",
            ));
        }
        let holder_name = text(self.holder_name, "refundAccount.holderName", 60)?;
        Ok(RefundAccount {
            bank,
            account_number: digits,
            holder_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(bank: &str, number: &str, holder: &str) -> RefundAccountForm {
        RefundAccountForm {
            bank: Some(bank.into()),
            account_number: Some(number.into()),
            holder_name: Some(holder.into()),
        }
    }

    #[test]
    fn an_account_needs_a_bank_digits_and_a_holder() {
        let parsed = form(" 88 ", "110-123-456789", "김토스").parse().unwrap();
        assert_eq!(parsed.account_number, "110123456789");
        assert_eq!(parsed.bank, "88");
        for bad in [
            form("", "110123", "김토스"),
            form("88", "110a123", "김토스"),
            form("88", "", "김토스"),
            form("88", &"1".repeat(21), "김토스"),
            form("88", "12345", "김토스"),
            form("88", "------", "김토스"),
            form("88", "110123", ""),
            form("88", "110123", "김\u{7}토스"),
            RefundAccountForm::default(),
        ] {
            assert!(bad.clone().parse().is_err(), "{bad:?}");
        }
    }
}
