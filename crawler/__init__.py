"""The crawler stage: Scrapy spiders for the platforms in config/platforms/ (see crawler/README.md)."""


def run_crawl(*args, **kwargs):
    """Crawl a platform in a child process; see crawler.run.run_crawl."""
    from crawler.run import run_crawl as _run
    return _run(*args, **kwargs)


def start_crawl(*args, **kwargs):
    """Start a crawl in a child process and return a handle; see crawler.run.start_crawl."""
    from crawler.run import start_crawl as _start
    return _start(*args, **kwargs)
