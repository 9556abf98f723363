"""Small builders shared by the tests."""

import json


def decision(action: str = "meditate", *, certainty: float = 0.9, significance: float = 0.3,
             type: str = "internal", reasoning: str = "because it is wise", **details) -> dict:
    if not details:
        details = {
            "meditate": {"duration": 120, "reflection_topic": "patience"},
            "develop_skill": {"skill_name": "haiku", "approach": "write three"},
            "communicate": {"recipient": "master", "message": "All is well.", "priority": "medium"},
            "ask_master": {"question": "Which task first?", "context": "two are urgent", "options": ["A", "B"]},
            "proactive_outreach": {"chat_id": 5555, "message": "Hello from the agent", "purpose": "introduce"},
        }.get(action, {})
    return {"action": action, "reasoning": reasoning, "certainty": certainty, "significance": significance,
            "type": type, "details": details}


def decision_text(**kwargs) -> str:
    """A model reply: a little prose around a fenced JSON decision."""
    return f"Here is my decision.\n```json\n{json.dumps(decision(**kwargs))}\n```"
