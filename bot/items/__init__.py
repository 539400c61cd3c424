"""An item's life once filed: who may act (permissions), what each action does (lifecycle), when it
is stale (sla), and the flows the owners' buttons, forms and thread replies run (flows)."""
