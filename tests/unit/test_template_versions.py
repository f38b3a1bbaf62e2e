"""The functions run through the alias `live` (for SnapStart), so every change must publish a new version.

SAM publishes a version for AutoPublishAlias only when the function's code changes, unless the function sets
AutoPublishAliasAllProperties (cfn-lint does not accept it in Globals) and the layer sets PublishLambdaVersion.
Without both, a deploy that changes only the layer (where all the product code lives) would leave the alias on
the previous version, running the previous layer. See docs/performance.md.
"""

from devstack.template import load_template


def test_a_new_layer_or_setting_publishes_a_new_version_of_every_function():
    template = load_template()
    assert template["Globals"]["Function"].get("AutoPublishAlias")
    assert template["Resources"]["CommonLayer"]["Properties"].get("PublishLambdaVersion") is True
    functions = {name: resource for name, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}
    missing = sorted(name for name, resource in functions.items()
                     if resource["Properties"].get("AutoPublishAliasAllProperties") is not True)
    assert not missing, f"set AutoPublishAliasAllProperties: true on {missing}"
