"""What the bot sends on its own initiative, as outbox rows for the delivery engine: broadcasts
(`lifecycle`, their final texts in `compose`), the daily notes (`notes`) on the firm's rhythm
(`rhythm`), return visits, the non-farm training, the monthly report, the trading and NFP
calendars, and the table of scheduled jobs (`jobs`). Compliance screening lives in
`bot.core.compliance`; the outbox and its workers in `bot.core.delivery`."""
