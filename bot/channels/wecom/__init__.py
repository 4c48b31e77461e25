"""WeCom (企业微信): the firm's WeChat Customer Service (微信客服)."""
