"""The operator API (`/api/v1`, bearer ADMIN_TOKEN) and the operator's `kabinet` commands:
imports, outages, schedules, requests, export. Built by the composition root
(`app.compose.make_operator`); modules import aiohttp only where they serve HTTP."""
