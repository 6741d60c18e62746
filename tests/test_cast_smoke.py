def test_it_builds_the_cast(cast):
    assert cast.scope(cast.erin).access.can("secrets.read_value", environment="dev", path="/")
    assert not cast.scope(cast.erin).access.can("secrets.read_value", environment="prod", path="/")
    assert not cast.scope(cast.dave).access.can("secrets.read_value", environment="dev", path="/")
    assert cast.scope(cast.charlie).access.role == "no-access"
