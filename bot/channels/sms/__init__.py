"""SMS: the Alibaba Cloud SMS client (`aliyun`, dysmsapi 2017-05-25) and the rules a text
must meet before it is sent (`texts`: Alibaba's variable limit, parts of 70/67 characters).

Nothing here is wired into the app yet: settings, consent and the channel come later. Like
every channel package it imports no other channel; what SMS providers share lives here."""
