//! AWS Control Tower: the regions an organization's landing zone governs, which are the default governed regions
//! where there is one.
//!
//! ListLandingZones "returns one landing zone identifier (ARN) across any commercial region, regardless of the landing
//! zone's home region", except that "for opt-in regions, the ListLandingZones API only returns the landing zone
//! identifier if you call the API in the same region as the API's home region" (Control Tower User Guide, "List
//! landing zones", <https://docs.aws.amazon.com/controltower/latest/userguide/lz-api-list.html>); an organization
//! without a landing zone gets none. GetLandingZone, asked in the ARN's region, returns the landing zone with its
//! manifest, whose `governedRegions` lists the regions under governance (API Reference, "GetLandingZone",
//! <https://docs.aws.amazon.com/controltower/latest/APIReference/API_GetLandingZone.html>; manifest schema: User
//! Guide, "The landing zone manifest file", <https://docs.aws.amazon.com/controltower/latest/userguide/lz-manifest-file.html>).

use aws_sdk_controltower::config::Region;
use aws_smithy_types::Document;

use super::Caller;
use crate::error::Error;

/// The regions the organization's landing zone governs, sorted; `None` without a landing zone, or when its manifest
/// names no governed regions (the field is optional).
pub(super) async fn governed_regions(
    conf: &aws_config::SdkConfig,
    home: &str,
    caller: &Caller,
) -> Result<Option<Vec<String>>, Error> {
    let client = aws_sdk_controltower::Client::new(conf);
    let listed = client.list_landing_zones().max_results(1).send().await.map_err(caller.fail("ListLandingZones"))?;
    let Some(arn) = listed.landing_zones().first().and_then(|z| z.arn()) else { return Ok(None) };
    // arn:PARTITION:controltower:REGION:ACCOUNT:landingzone/ID
    let region = arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or(home).to_owned();
    let there = aws_sdk_controltower::config::Builder::from(conf).region(Region::new(region.clone())).build();
    let caller = Caller { region, account: caller.account.clone() };
    let got = aws_sdk_controltower::Client::from_conf(there)
        .get_landing_zone()
        .landing_zone_identifier(arn)
        .send()
        .await
        .map_err(caller.fail("GetLandingZone"))?;
    let Some(zone) = got.landing_zone() else {
        return Err(caller.unexpected("GetLandingZone", "no landing zone"));
    };
    Ok(governed_in(zone.manifest()))
}

/// `governedRegions` of a landing zone manifest.
fn governed_in(manifest: &Document) -> Option<Vec<String>> {
    let Document::Object(fields) = manifest else { return None };
    let Some(Document::Array(regions)) = fields.get("governedRegions") else { return None };
    let mut names: Vec<String> =
        regions.iter().filter_map(|r| if let Document::String(s) = r { Some(s.clone()) } else { None }).collect();
    names.sort();
    names.dedup();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_governed_regions_are_read_from_the_manifest_and_a_manifest_without_them_names_none() {
        let manifest = Document::Object(
            [
                (
                    "governedRegions".to_owned(),
                    Document::Array(vec![Document::String("us-east-1".into()), Document::String("eu-west-1".into())]),
                ),
                (
                    "securityRoles".to_owned(),
                    Document::Object([("accountId".into(), Document::String("1".into()))].into()),
                ),
            ]
            .into(),
        );
        assert_eq!(governed_in(&manifest), Some(vec!["eu-west-1".to_owned(), "us-east-1".to_owned()]));
        assert_eq!(governed_in(&Document::Object(Default::default())), None);
        assert_eq!(governed_in(&Document::Null), None);
    }
}
