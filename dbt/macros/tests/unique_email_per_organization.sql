{#- Fails with the (organization, email) pairs that appear more than once. -#}
{% test unique_email_per_organization(model) %}
select organization_id, email_normalized, count(*) as contact_count
from {{ model }}
where email_normalized is not null
group by organization_id, email_normalized
having count(*) > 1
{% endtest %}
