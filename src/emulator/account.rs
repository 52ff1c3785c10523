//! An account of many projects ([`Emulator::projects`](super::Emulator::projects)): what IAM
//! lists (`GET /v3/auth/projects`, `GET /v3/projects?name=`) and which projects HSS serves.
//!
//! Nothing is stored per project: a project's ID, name and parent follow from its index, and an
//! ID gives its index back, so an account of [`MAX_ACCOUNT_PROJECTS`] costs a few bytes.
//!
//! The layout, for `n` projects:
//! - the first `r = min(32, n - n / 4)` are region projects, one per region HSS serves
//!   ([`crate::region::REGIONS`], the emulator's own [`region`](super::Emulator::region) first):
//!   `name` = the region ID, `parent_id` = the account's domain ID;
//! - the others are sub-projects, dealt in turn to the region projects: sub-project `j`
//!   (`0..n - r`) belongs to region project `j % r` and is named `<region>_sub<j / r + 1>`, its
//!   `parent_id` the region project's ID;
//! - project `i` has the ID `acc0` followed by `i` in 28 lowercase hex digits, except the region
//!   project of the emulator's own region, which has the emulator's
//!   [`project_id`](super::Emulator::project_id) (the one its credentials carry);
//! - IAM also lists `MOS` (ID [`MOS_PROJECT_ID`]), a project of IAM's own that is not a region:
//!   HSS does not serve it, as no region's HSS does.

use crate::region::REGIONS;

/// The most projects [`Emulator::projects`](super::Emulator::projects) makes (and CLI
/// `emulator --projects` accepts).
pub const MAX_ACCOUNT_PROJECTS: usize = 10_000;

/// The ID of the `MOS` project IAM lists besides the account's region projects (it is no
/// region's: HSS refuses it as a project the account does not have).
pub const MOS_PROJECT_ID: &str = "acc0ffffffffffffffffffffffffffff";

/// The prefix of the derived project IDs.
const ID_PREFIX: &str = "acc0";

/// A project of the account, as IAM lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct AccountProject {
    /// Its ID (32 hex digits).
    pub id: String,
    /// Its name: the region ID for a region project, `<region>_sub<k>` for a sub-project.
    pub name: String,
    /// The region it belongs to (its own name, or its parent's for a sub-project).
    pub region: String,
    /// The domain ID for a region project, the region project's ID for a sub-project.
    pub parent_id: String,
}

/// The account: its size and the regions of its region projects.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    size: usize,
    /// The regions of the region projects, in index order.
    regions: Vec<&'static str>,
    /// The ID of project 0 when it is the emulator's own project.
    own_project: Option<String>,
    domain_id: &'static str,
}

impl Account {
    /// `size` projects (1..=[`MAX_ACCOUNT_PROJECTS`]), the region project of `region` (if HSS
    /// serves it) having `project_id`.
    pub fn new(size: usize, region: &str, project_id: &str, domain_id: &'static str) -> Self {
        let size = size.clamp(1, MAX_ACCOUNT_PROJECTS);
        let own = REGIONS.iter().copied().find(|r| *r == region);
        let mut regions: Vec<&'static str> = own.into_iter().collect();
        regions.extend(REGIONS.iter().copied().filter(|r| Some(*r) != own));
        regions.truncate((size - size / 4).min(REGIONS.len()));
        Account {
            size,
            regions,
            own_project: own.map(|_| project_id.to_owned()),
            domain_id,
        }
    }

    /// How many projects HSS serves.
    pub fn len(&self) -> usize {
        self.size
    }

    fn id(&self, index: usize) -> String {
        match &self.own_project {
            Some(id) if index == 0 => id.clone(),
            _ => format!("{ID_PREFIX}{index:028x}"),
        }
    }

    /// Project `index` (below [`len`](Self::len)).
    pub fn project(&self, index: usize) -> AccountProject {
        let r = self.regions.len();
        if index < r {
            return AccountProject {
                id: self.id(index),
                name: self.regions[index].to_owned(),
                region: self.regions[index].to_owned(),
                parent_id: self.domain_id.to_owned(),
            };
        }
        let j = index - r;
        let parent = j % r;
        AccountProject {
            id: self.id(index),
            name: format!("{}_sub{}", self.regions[parent], j / r + 1),
            region: self.regions[parent].to_owned(),
            parent_id: self.id(parent),
        }
    }

    /// Every project HSS serves, in index order.
    pub fn projects(&self) -> impl Iterator<Item = AccountProject> + '_ {
        (0..self.size).map(|i| self.project(i))
    }

    /// The index of the project with this ID, if the account has it (`MOS` is not one HSS
    /// serves).
    pub fn index_of(&self, id: &str) -> Option<usize> {
        if self.own_project.as_deref() == Some(id) {
            return Some(0);
        }
        let digits = id.strip_prefix(ID_PREFIX)?;
        if digits.len() != 28
            || !digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let index = usize::try_from(u128::from_str_radix(digits, 16).ok()?).ok()?;
        let own_is_first = self.own_project.is_some() && index == 0;
        (index < self.size && !own_is_first).then_some(index)
    }

    /// The region project's ID of `region`, if the account has one.
    pub fn region_project(&self, region: &str) -> Option<String> {
        let index = self.regions.iter().position(|r| *r == region)?;
        Some(self.id(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "d0e1f2a3b4c54d6e8f9a0b1c2d3e4f5a";

    #[test]
    fn small_accounts_are_mostly_region_projects() {
        let account = Account::new(4, "cn-north-4", "own", DOMAIN);
        let projects: Vec<AccountProject> = account.projects().collect();
        assert_eq!(projects.len(), 4);
        assert_eq!(projects[0].id, "own");
        assert_eq!(projects[0].name, "cn-north-4");
        assert_eq!(projects[0].parent_id, DOMAIN);
        assert_eq!(projects[1].name, REGIONS[0]);
        assert_eq!(projects[1].id, "acc00000000000000000000000000001");
        assert_eq!(projects[3].name, "cn-north-4_sub1");
        assert_eq!(projects[3].region, "cn-north-4");
        assert_eq!(projects[3].parent_id, "own");
    }

    #[test]
    fn every_id_maps_back_to_its_index_and_nothing_else_does() {
        let account = Account::new(MAX_ACCOUNT_PROJECTS, "cn-north-4", "own", DOMAIN);
        for (i, project) in account.projects().enumerate() {
            assert_eq!(project.id.len(), if i == 0 { 3 } else { 32 });
            assert_eq!(account.index_of(&project.id), Some(i), "{project:?}");
        }
        let past = format!("{ID_PREFIX}{MAX_ACCOUNT_PROJECTS:028x}");
        for id in [
            MOS_PROJECT_ID,
            past.as_str(),
            "acc00000000000000000000000000000",
            "ACC00000000000000000000000000001",
            "acc0000000000000000000000000001",
            "acc0+000000000000000000000000001",
            "",
        ] {
            assert_eq!(account.index_of(id), None, "{id}");
        }
        // Every region HSS serves has one region project, then sub-projects.
        assert_eq!(
            account.projects().filter(|p| p.parent_id == DOMAIN).count(),
            REGIONS.len()
        );
        assert_eq!(
            account.region_project("af-north-1"),
            account
                .projects()
                .find(|p| p.name == "af-north-1")
                .map(|p| p.id)
        );
    }

    #[test]
    fn an_emulator_region_hss_does_not_serve_gets_no_project() {
        let account = Account::new(2, "xx-test-1", "own", DOMAIN);
        assert_eq!(account.project(0).id, "acc00000000000000000000000000000");
        assert_eq!(account.index_of("own"), None);
        assert_eq!(
            account.index_of("acc00000000000000000000000000000"),
            Some(0)
        );
        assert_eq!(Account::new(0, "cn-north-4", "own", DOMAIN).len(), 1);
    }
}
