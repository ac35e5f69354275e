"""Pure rules of the gateway: contribution policies, benefit buckets, bundles, plans, clearing."""
