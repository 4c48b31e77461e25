"""SMS as a channel (`channel`, `sender`): the providers behind one interface (`provider`):
Alibaba Cloud SMS (`aliyun`, dysmsapi 2017-05-25, and `aliyun_provider`) and SMPP 3.4
gateways (`smpp`); the rules a text must meet (`texts`); what a provider's answers mean
(`errors`). Like every channel package it imports no other channel."""
