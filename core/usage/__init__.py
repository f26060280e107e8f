"""Usage: recording and the limit decision (`service`), the limits figures (`limits`), the event
log and monthly rollups (`store`), JSON Lines import (`importer`) and prices (`pricing`)."""
