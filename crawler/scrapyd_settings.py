"""Scrapy settings module of the egg deployed to Scrapyd (see crawler/scrapyd.py).

Only what Scrapy needs before a spider exists; each job's real settings are
built from its platform by crawler.scrapyd_spiders, like a local run's.
"""
BOT_NAME = "shian"
SPIDER_MODULES = ["crawler.scrapyd_spiders"]
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
