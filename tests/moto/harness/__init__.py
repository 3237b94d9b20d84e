"""The iam-audit moto harness: moto 5.2.5 in-process, plus what a scan test needs and moto lacks.

Modules:
  patches    -- monkeypatches of moto itself (credential report, IAM pagination, account ids,
                inline policies as JSON text, AccountPasswordPresent, iam.amazonaws.com in
                Organizations, authorization as the caller's account)
  report     -- the credential report cached as AWS caches it (4 hours), its rows
  changes    -- changes to IAM after the report (POST /iam-audit/change)
  org        -- GetCallerIdentity of the static key, members' Organizations calls (delegated
                administrator), IAM ListOrganizationsFeatures
  state      -- the harness's own state (fault rules, call counts, seeded data), one lock
  faults     -- fault rules and the AWS error wire formats
  cloudtrail -- seeded CloudTrail events and LookupEvents
  seed       -- building an Organization from a JSON spec, and back-dating
  access     -- least-privilege principals, CloudFormation stacks, moto's authorization mode
                completed (LookupEvents, trust policies, error shapes)
  app        -- the WSGI middleware in front of moto, and the /iam-audit/* endpoints
  util       -- times, deterministic ids, pagination tokens
"""
